"""Rate limits on the few requests that write or guess: filing, support, Open311 filing, sign-in.

A fixed-window counter in Redis (``INCR`` then ``EXPIRE`` in one pipeline, one key per scope,
client and window). Limits are settings (``RATE_LIMITS``, strings such as ``"20/h"`` or
``"10/15m"``), read from the environment in ``config/settings/base.py``.

The client is the account when the request is signed in, the IP address otherwise (an IPv6 client
is its /64, which one household or one phone usually owns). Sign-in attempts count both per IP and
per username tried, so that neither a single address nor a spread of addresses can guess one
account's password.

If Redis cannot be reached the request is let through and a warning is logged: a citizen must
always be able to file a report; rate limits protect the service, they are not a gate.

Where it applies:

* DRF views: :class:`ScopedRateThrottle` is the default throttle class; it maps a route name and
  method to a scope (:data:`DRF_SCOPES`), so views need no change.
* Django views (Open311, the admin's sign-in): :class:`RateLimitMiddleware`, by route name too.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("concerto.ratelimit")

KEY_PREFIX = "concerto:rl"

# (route name, HTTP method) -> scope, for DRF views.
DRF_SCOPES: dict[tuple[str, str], str] = {
    ("api:report-list", "POST"): "report_create",
    ("api:report-support", "POST"): "support",
    ("urbanisme-api:contribution-list", "POST"): "contribution_create",
    ("urbanisme-api:contribution-replies", "POST"): "contribution_create",
    ("urbanisme-api:contribution-support", "POST"): "support",
    ("urbanisme-api:project-follow", "POST"): "follow",
}
# (route name, HTTP method) -> scope, for plain Django views (see RateLimitMiddleware).
VIEW_SCOPES: dict[tuple[str, str], str] = {
    ("open311:requests", "POST"): "open311_post",
    ("admin:login", "POST"): "login",
    # « Mes données »: each request e-mails a link (privacy/views.py).
    ("privacy:request", "POST"): "privacy_request",
    # The project pages' forms (web/views/projects.py): the API's scopes, counted together.
    ("web:project-contribute", "POST"): "contribution_create",
    ("web:contribution-reply", "POST"): "contribution_create",
    ("web:contribution-support", "POST"): "support",
    ("web:project-follow", "POST"): "follow",
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])[a-z]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends, when refused


def parse_rate(text: str) -> Rate:
    """``"20/h"``, ``"10/15m"``, ``"60/hour"``: a number of requests per window."""
    match = _RATE.match(text or "")
    if not match:
        raise ValueError(f"rate limit not understood: {text!r} (expected e.g. '20/h' or '10/15m')")
    count, multiple, unit = match.groups()
    window = int(multiple or 1) * _UNITS[unit.lower()]
    if window <= 0:
        raise ValueError(f"rate limit window must be positive: {text!r}")
    return Rate(limit=int(count), window=window)


_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", None) or settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        # Short timeouts: a slow Redis must not hold a citizen's request.
        client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        _clients[url] = client
    return client


def hit(scope: str, ident: str, *, now: float | None = None) -> Verdict:
    """Count one request of ``ident`` in ``scope``; refused once the window's limit is passed."""
    if not getattr(settings, "RATE_LIMITS_ENABLED", True):
        return Verdict(True)
    spec = getattr(settings, "RATE_LIMITS", {}).get(scope)
    if not spec:
        return Verdict(True)
    rate = parse_rate(spec)
    now = time.time() if now is None else now
    window_start = int(now // rate.window) * rate.window
    key = f"{KEY_PREFIX}:{scope}:{ident}:{window_start}"
    try:
        pipe = _redis().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, rate.window + 1)
        count = int(pipe.execute()[0])
    except (redis.RedisError, OSError) as exc:
        logger.warning("rate limiter unavailable, request let through (scope %s): %s", scope, exc)
        return Verdict(True)
    if count <= rate.limit:
        return Verdict(True)
    return Verdict(False, retry_after=max(1, math.ceil(window_start + rate.window - now)))


def client_ip(request: HttpRequest) -> str:
    """The client's address; behind ``RATE_LIMIT_PROXY_COUNT`` trusted proxies, from X-Forwarded-For."""
    proxies = int(getattr(settings, "RATE_LIMIT_PROXY_COUNT", 0) or 0)
    raw = request.META.get("REMOTE_ADDR", "") or ""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        if hops:
            raw = hops[-min(proxies, len(hops))]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64] or "inconnu"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _user_ident(user: Any) -> str | None:
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return None


def small_form(request: HttpRequest) -> Any:
    """The form body when reading it here cannot change what the view sees, else an empty dict.

    A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is left unread: the view refuses it with its own
    message (reading it here first would leave the view an empty form).
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return {}
    if length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
        return {}
    try:
        return request.POST
    except Exception:  # unreadable: the view answers as it always did
        return {}


def idents(request: HttpRequest, user: Any = None, scope: str = "") -> list[str]:
    """The counters a request adds to.

    The account if signed in, else the IP. Sign-in: the IP and the username tried. Open311: the
    API key (one application relays many citizens from one server), else the IP.
    """
    if scope == "login":
        found = [f"ip:{client_ip(request)}"]
        username = (small_form(request).get("username") or "").strip().lower()
        if username:
            found.append(f"username:{username[:150]}")
        return found
    if scope == "open311_post":
        key = small_form(request).get("api_key") or request.GET.get("api_key") or ""
        if key:
            return [f"apikey:{hashlib.sha256(key.encode()).hexdigest()[:32]}"]
    return [_user_ident(user) or f"ip:{client_ip(request)}"]


def check(request: HttpRequest, scope: str, user: Any = None) -> Verdict:
    """Count the request on each of its counters; refused if any is over its limit."""
    refused = [v for v in (hit(scope, ident) for ident in idents(request, user, scope)) if not v.allowed]
    if refused:
        return Verdict(False, retry_after=max(v.retry_after for v in refused))
    return Verdict(True)


def _message() -> str:
    return _("Trop de requêtes : réessayez plus tard.")


def too_many_requests(retry_after: int) -> HttpResponse:
    """The API's JSON error shape (config/api_errors.py) with status 429 and Retry-After."""
    from config.api_errors import body

    response = JsonResponse(body("trop_de_requetes", _message()), status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _route(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else None


class ScopedRateThrottle(BaseThrottle):
    """DRF throttle for the public write endpoints listed in :data:`DRF_SCOPES`; others pass."""

    def allow_request(self, request: Any, view: Any) -> bool:
        self._wait: int | None = None
        scope = DRF_SCOPES.get((_route(request) or "", request.method))
        if scope is None:
            return True
        verdict = check(request, scope, user=request.user)
        if not verdict.allowed:
            self._wait = verdict.retry_after
        return verdict.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class RateLimitMiddleware:
    """Rate limits for plain Django views (:data:`VIEW_SCOPES`): Open311 filing and the admin's sign-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        scope = VIEW_SCOPES.get((_route(request) or "", request.method or ""))
        if scope is None:
            return None
        verdict = check(request, scope, user=getattr(request, "user", None))
        if verdict.allowed:
            return None
        if scope == "open311_post":
            return _open311_refusal(view_kwargs.get("fmt", "json"), verdict.retry_after)
        if (_route(request) or "").startswith("web:") and "application/json" not in request.headers.get(
            "Accept", ""
        ):
            return _page_refusal(request, verdict.retry_after)
        return too_many_requests(verdict.retry_after)


def _page_refusal(request: HttpRequest, retry_after: int) -> HttpResponse:
    """A page's plain form post (no script) gets the site's HTML page, not the API's JSON."""
    from django.shortcuts import render

    response = render(request, "web/429.html", {"message": _message()}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _open311_refusal(fmt: str, retry_after: int) -> HttpResponse:
    """Open311 clients expect the spec's error envelope, in the format the URL asks for."""
    from signalements.open311.renderers import Open311Error, render_error

    response = render_error(fmt, Open311Error(429, _message()))
    response["Retry-After"] = str(retry_after)
    return response
