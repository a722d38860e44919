"""Sign-in lockout: after repeated failures, an account name and an address are refused for a while.

Two counters in Redis, like ``config/ratelimit.py``: failed sign-ins per username tried and per
client address. When a counter reaches its threshold (``LOGIN_LOCKOUT_ATTEMPTS`` for a username,
``LOGIN_LOCKOUT_IP_ATTEMPTS`` for an address) a lock key is set for ``LOGIN_LOCKOUT_SECONDS``;
while it exists, :class:`LockoutModelBackend` refuses to even check the password. Failures are
counted from Django's ``user_login_failed`` signal, which every sign-in path sends (the admin, the
site's ``/connexion/`` page, HTTP Basic on the API), and a successful sign-in
(``user_logged_in``) clears that username's counter. The address counter is not cleared by a
success: otherwise one valid account would let its owner spray guesses at others from one address.

How it is wired, with no change to any login view:

* ``AUTHENTICATION_BACKENDS = ["config.lockout.LockoutModelBackend"]`` — Django's ModelBackend,
  preceded by the lock check (it raises ``PermissionDenied``, which stops ``authenticate()``).
* :class:`LoginLockoutMiddleware` turns the refused sign-in page into the French explanation
  « Trop de tentatives : réessayez dans N minutes. » (status 429, ``Retry-After``): Django's login
  views answer with a ``TemplateResponse`` whose form is replaced before rendering, so the admin's
  page and the site's page both show it in their own layout, and any other form error is dropped.

A username is locked whatever address tries it, and whether or not the account exists (so the
answer tells nothing about existence). That lets anyone lock a known account name for
``LOGIN_LOCKOUT_SECONDS``: the price of stopping a distributed guess on one account; staff can
still sign in once it expires, and an administrator can clear it (:func:`clear`).

Redis down ⇒ fail open with a warning (``concerto.lockout``), as the rate limiter does: the
password check still applies. The lockout is on when ``LOGIN_LOCKOUT_ENABLED`` and the shared
switch of the Redis abuse counters ``RATE_LIMITS_ENABLED`` are both true (the test profile turns
the latter off, so that ordinary tests never share counters); it uses ``LOGIN_LOCKOUT_REDIS_URL``,
by default the rate limiter's Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.translation import ngettext

from config.ratelimit import client_ip

logger = logging.getLogger("concerto.lockout")

KEY_PREFIX = "concerto:lockout"
# Set on the request when a sign-in was refused (or this failure set the lock): seconds left.
REQUEST_ATTRIBUTE = "login_lockout_seconds"


@dataclass(frozen=True)
class Lock:
    seconds: int  # until the lock ends; 0 when not locked

    @property
    def locked(self) -> bool:
        return self.seconds > 0


_clients: dict[str, redis.Redis] = {}


def enabled() -> bool:
    return bool(getattr(settings, "LOGIN_LOCKOUT_ENABLED", True)) and bool(
        getattr(settings, "RATE_LIMITS_ENABLED", True)
    )


def _redis() -> redis.Redis:
    url = (
        getattr(settings, "LOGIN_LOCKOUT_REDIS_URL", None)
        or getattr(settings, "RATE_LIMIT_REDIS_URL", None)
        or settings.REDIS_URL
    )
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        _clients[url] = client
    return client


def _attempts() -> int:
    return int(getattr(settings, "LOGIN_LOCKOUT_ATTEMPTS", 5))


def _ip_attempts() -> int:
    return int(getattr(settings, "LOGIN_LOCKOUT_IP_ATTEMPTS", 20))


def _seconds() -> int:
    return int(getattr(settings, "LOGIN_LOCKOUT_SECONDS", 900))


def _username_ident(username: str | None) -> str | None:
    """A digest of the normalised name: Redis keys carry no account name."""
    name = (username or "").strip().lower()
    if not name:
        return None
    return "username:" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:32]


def _idents(request: Any, username: str | None) -> list[tuple[str, int]]:
    """(counter, threshold) pairs for this attempt: the username tried, and the address if known."""
    found: list[tuple[str, int]] = []
    if ident := _username_ident(username):
        found.append((ident, _attempts()))
    meta = getattr(request, "META", None)
    if meta is not None and meta.get("REMOTE_ADDR"):
        found.append((f"ip:{client_ip(request)}", _ip_attempts()))
    return found


def _username_of(credentials: dict[str, Any]) -> str | None:
    field = get_user_model().USERNAME_FIELD
    value = credentials.get(field, credentials.get("username"))
    return value if isinstance(value, str) else None


def status(request: Any, username: str | None) -> Lock:
    """Whether this username or this address is locked now, and for how long."""
    if not enabled():
        return Lock(0)
    idents = [ident for ident, _threshold in _idents(request, username)]
    if not idents:
        return Lock(0)
    try:
        pipe = _redis().pipeline(transaction=False)
        for ident in idents:
            pipe.ttl(f"{KEY_PREFIX}:lock:{ident}")
        ttls = [int(t) for t in pipe.execute()]
    except (redis.RedisError, OSError) as exc:
        logger.warning("sign-in lockout unavailable, attempt let through to the password check: %s", exc)
        return Lock(0)
    # TTL is -2 for a missing key, -1 for a key without expiry (never set so here).
    return Lock(max([t for t in ttls if t > 0], default=0))


def record_failure(request: Any, username: str | None) -> Lock:
    """Count one failed sign-in; sets the lock when a threshold is reached. Returns the lock now."""
    if not enabled():
        return Lock(0)
    seconds = _seconds()
    pairs = _idents(request, username)
    if not pairs:
        return Lock(0)
    try:
        pipe = _redis().pipeline(transaction=True)
        for ident, _threshold in pairs:
            key = f"{KEY_PREFIX}:fail:{ident}"
            # The window starts with the first failure (SET NX EX, then INCR keeps the expiry).
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
        results = pipe.execute()
        counts = [int(results[2 * i + 1]) for i in range(len(pairs))]
        locked = [
            ident for (ident, threshold), count in zip(pairs, counts, strict=True) if count >= threshold
        ]
        if locked:
            pipe = _redis().pipeline(transaction=True)
            for ident in locked:
                pipe.set(f"{KEY_PREFIX}:lock:{ident}", 1, ex=seconds)
                pipe.delete(f"{KEY_PREFIX}:fail:{ident}")
            pipe.execute()
            logger.warning("sign-in locked for %s s after repeated failures (%s)", seconds, ", ".join(locked))
            return Lock(seconds)
    except (redis.RedisError, OSError) as exc:
        logger.warning("sign-in lockout unavailable, failure not counted: %s", exc)
    return Lock(0)


def record_success(username: str | None) -> None:
    """A successful sign-in forgets that username's failures (not the address's: see the docstring)."""
    if not enabled() or not (ident := _username_ident(username)):
        return
    try:
        _redis().delete(f"{KEY_PREFIX}:fail:{ident}")
    except (redis.RedisError, OSError) as exc:
        logger.warning("sign-in lockout unavailable, counter not cleared: %s", exc)


def clear(*, username: str | None = None, ip: str | None = None) -> None:
    """Lift a lock by hand (an administrator's shell): the username's and/or the address's."""
    idents = [i for i in (_username_ident(username), f"ip:{ip}" if ip else None) if i]
    keys = [f"{KEY_PREFIX}:{kind}:{ident}" for ident in idents for kind in ("fail", "lock")]
    if keys:
        _redis().delete(*keys)


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Trop de tentatives : réessayez dans %(n)d minute.",
        "Trop de tentatives : réessayez dans %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


# --- wiring -------------------------------------------------------------------------------------


class LockoutModelBackend(ModelBackend):
    """Django's ModelBackend, refusing without a password check while the name or address is locked."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        lock = status(request, name)
        if lock.locked:
            if request is not None:
                setattr(request, REQUEST_ATTRIBUTE, lock.seconds)
            # Stops authenticate(): no other backend is asked, user_login_failed is sent.
            raise PermissionDenied(message(lock.seconds))
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed, dispatch_uid="concerto.lockout.failed")
def _on_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if request is not None and getattr(request, REQUEST_ATTRIBUTE, None):
        return  # refused because locked: not a new guess, and the lock must not grow
    lock = record_failure(request, _username_of(credentials))
    if lock.locked and request is not None:
        setattr(request, REQUEST_ATTRIBUTE, lock.seconds)


@receiver(user_logged_in, dispatch_uid="concerto.lockout.success")
def _on_success(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    if user is not None:
        record_success(user.get_username())


class LoginLockoutMiddleware:
    """Shows why a sign-in was refused: the lock message instead of « identifiant ou mot de passe ».

    Acts only on a ``TemplateResponse`` with a ``form`` when the request was refused by the lock
    (or its failure set it), so it works for every login view built on Django's, unchanged.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        seconds = getattr(request, REQUEST_ATTRIBUTE, None)
        if not seconds:
            return response
        form = (response.context_data or {}).get("form")
        if form is not None and hasattr(form, "errors"):
            form.errors.clear()
            form.errors[NON_FIELD_ERRORS] = form.error_class([message(seconds)], error_class="nonfield")
        response.status_code = 429
        response["Retry-After"] = str(seconds)
        return response
