"""HTTP views of the tiles: parse, ask ``vector`` / ``raster`` for an ETag and bytes, answer.

Every tile answer carries a strong ETag and ``Cache-Control: public, max-age, stale-while-revalidate``;
``If-None-Match`` gets a 304 before any tile work; the Redis cache (when configured) is asked
before the database. Errors become ``{"code", "message"}`` JSON with the status of
``tiles.errors.STATUS``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from tiles import cache, conf, layers, raster, tilejson, vector
from tiles.errors import TileError, from_exception
from tiles.tilemath import tile_checked


def _cache_control(max_age: int | None = None) -> str:
    age = conf.max_age() if max_age is None else max_age
    return f"public, max-age={age}, stale-while-revalidate={conf.stale_while_revalidate()}"


def _error(error: TileError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status, json_dumps_params={"ensure_ascii": False})
    if error.status == 503:
        response["Retry-After"] = str(conf.retry_after())
        response["Cache-Control"] = "no-store"
    return response


def tile_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Known failures → their JSON answer; anything else is a bug and propagates (500, logged)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except TileError as exc:
            return _error(exc)
        except Exception as exc:
            if (known := from_exception(exc)) is None:
                raise
            return _error(known)

    return wrapped


def _serve(
    request: HttpRequest,
    tag: str,
    render: Callable[[], bytes],
    content_type: str,
    max_age: int | None = None,
) -> HttpResponse:
    """304, cached bytes or freshly rendered bytes; empty bytes are a 204 (nothing to draw).

    ``tag`` must have been made from a version read before ``render`` runs (the bytes are then
    at least as new as the tag says); ``max_age`` defaults to ``TILES_MAX_AGE``.
    """
    if cache.matches(request.headers.get("If-None-Match"), tag):
        response = HttpResponse(status=304)
        state = "not-modified"
    else:
        body = cache.get(tag)
        state = "hit"
        if body is None:
            body = render()
            cache.put(tag, body)
            state = "miss" if cache.enabled() else "off"
        response = HttpResponse(body, content_type=content_type, status=200 if body else 204)
    response["ETag"] = tag
    response["Cache-Control"] = _cache_control(max_age)
    response["X-Tiles-Cache"] = state
    return response


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("tiles:index"))


def _declared_filters(layer: layers.VectorLayer, query: QueryDict) -> QueryDict:
    kept = QueryDict(mutable=True)
    for f in layer.filters:
        if value := query.get(f.name):
            kept[f.name] = value
    return kept


@require_safe
@tile_errors
def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse(tilejson.layers_index(_base_url(request)), json_dumps_params={"ensure_ascii": False})


@require_safe
@tile_errors
def vector_tilejson(request: HttpRequest, layer: str) -> HttpResponse:
    found = layers.get(layer)
    found.parse_filters(request.GET)
    document = tilejson.vector_tilejson(found, _base_url(request), _declared_filters(found, request.GET))
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = _cache_control()
    return response


@require_safe
@tile_errors
def vector_tile(request: HttpRequest, layer: str, z: int, x: int, y: int) -> HttpResponse:
    found = layers.get(layer)
    tile = tile_checked(z, x, y)
    found.check_zoom(tile.z)
    filters = found.parse_filters(request.GET)
    version = vector.tile_version(found)
    tag = vector.tile_etag(found, tile, filters, version)
    return _serve(
        request,
        tag,
        lambda: vector.tile_mvt(found, tile, filters),
        vector.MVT_CONTENT_TYPE,
        max_age=vector.max_age(found, version),
    )


@require_safe
@tile_errors
def raster_tilejson(request: HttpRequest, layer: str) -> HttpResponse:
    document = tilejson.raster_tilejson(raster.raster_layer(layer), _base_url(request))
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = _cache_control()
    return response


@require_safe
@tile_errors
def raster_tile(
    request: HttpRequest, layer: str, z: str, x: str, y: str, fmt: str, scale: str | None = None
) -> HttpResponse:
    found = raster.raster_layer(layer)
    tile = tile_checked(int(z), int(x), int(y))
    size = raster.parse_tilesize(scale, request.GET.get("tilesize"))
    tag = raster.tile_etag(found, tile, tilesize=size, fmt=fmt)
    return _serve(
        request,
        tag,
        lambda: raster.tile_image(found, tile, tilesize=size, fmt=fmt),
        raster.CONTENT_TYPES[fmt],
    )


@tile_errors
def unknown(request: HttpRequest, path: str) -> HttpResponse:
    raise TileError(
        "url_inconnue",
        _(
            "Adresse de tuile inconnue : attendu /tiles/<couche>/<z>/<x>/<y>.mvt, /tiles/<couche>.json "
            "ou /tiles/raster/<couche>/<z>/<x>/<y>.png|webp."
        ),
    )
