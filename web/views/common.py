"""What every page shares: the map configuration, JSON or HTML answers, staff-only access, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from config import ratelimit
from signalements import permissions
from web import selectors


def wants_json(request: HttpRequest) -> bool:
    """The page's scripts ask for JSON; a plain form post (no script) gets HTML."""
    return "application/json" in request.headers.get("Accept", "")


def error_json(
    code: str, message: str, errors: dict[str, list[str]] | None = None, *, status: int
) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "errors": errors or {}}, status=status)


def map_config() -> dict[str, Any]:
    """What the map scripts need, from settings: basemap (the only third-party host), view, tiles."""
    leaflet = getattr(settings, "LEAFLET_CONFIG", {})
    bounds = selectors.territory_bounds()
    tile = reverse("tiles:vector-tile", args=["reports", 0, 0, 0])
    center = leaflet.get("DEFAULT_CENTER", (46.6, 2.4))
    return {
        "basemap": {
            "url": settings.BASEMAP_URL or "",
            "attribution": settings.BASEMAP_ATTRIBUTION or "",
        },
        "center": [center[0], center[1]],
        "zoom": leaflet.get("DEFAULT_ZOOM", 12),
        "minZoom": leaflet.get("MIN_ZOOM", 3),
        "maxZoom": leaflet.get("MAX_ZOOM", 19),
        "bounds": [[bounds[1], bounds[0]], [bounds[3], bounds[2]]] if bounds else None,
        "reportsTiles": tile.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt"),
        "reportUrl": reverse("web:report-detail", args=["REFERENCE"]),
    }


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-out visitors go to the sign-in page; signed-in people without a staff role get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_staff_user(request.user):
            return render(request, "web/403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def rate_limited(request: HttpRequest, scope: str) -> HttpResponse | None:
    """The shared Redis rate limits (config.ratelimit) for the pages' writes; None when allowed."""
    verdict = ratelimit.check(request, scope, user=getattr(request, "user", None))
    if verdict.allowed:
        return None
    message = _("Trop de requêtes : réessayez plus tard.")
    if wants_json(request):
        response: HttpResponse = error_json("trop_de_requetes", message, status=429)
    else:
        response = render(request, "web/429.html", {"message": message}, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    return response
