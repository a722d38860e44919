"""OGC API – Features query parameters: parsing and validation, pure functions (no I/O).

Errors are :class:`OGCError` with an OGC exception code and a French description; the views turn
them into ``{"code": ..., "description": ...}`` with the matching HTTP status.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.gis.geos import Polygon
from django.utils.translation import gettext as _

from geo.srid import InvalidGeometry, polygon_from_bbox
from opendata.collections import Interval

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class OGCError(Exception):
    def __init__(self, description: str, *, code: str = "InvalidParameterValue", status: int = 400):
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "description": self.description}


def parse_bbox(value: str | None) -> Polygon | None:
    """Four numbers in CRS84 (lon/lat), west,south,east,north. Six numbers (3D) are refused."""
    if value is None or value == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise OGCError(_("bbox : quatre nombres sont attendus (ouest,sud,est,nord)."))
    try:
        numbers = [float(p) for p in parts]
    except ValueError as exc:
        raise OGCError(_("bbox : quatre nombres sont attendus (ouest,sud,est,nord).")) from exc
    if not all(math.isfinite(n) for n in numbers):
        raise OGCError(_("bbox : les nombres doivent être finis."))
    try:
        return polygon_from_bbox(*numbers)
    except InvalidGeometry as exc:
        raise OGCError(_("bbox invalide : %(error)s") % {"error": exc}) from exc


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _instant(text: str, *, end: bool) -> datetime:
    """An RFC 3339 date-time (with its offset) or a full date: its first (or last) instant, UTC."""
    if _DATE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise OGCError(_("datetime : date invalide « %(value)s ».") % {"value": text}) from exc
        start = datetime.combine(day, time.min, tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    if _DATETIME.match(text):
        try:
            return datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00"))
        except ValueError as exc:
            raise OGCError(_("datetime : date invalide « %(value)s ».") % {"value": text}) from exc
    raise OGCError(
        _(
            "datetime : « %(value)s » n'est pas une date RFC 3339 "
            "(par exemple 2026-01-01 ou 2026-01-01T12:00:00Z)."
        )
        % {"value": text}
    )


def parse_datetime(value: str | None) -> Interval | None:
    """An instant, a closed interval ``a/b`` or an open one (``../b``, ``a/..``, empty bound)."""
    if value is None or value == "":
        return None
    if "/" not in value:
        return _instant(value, end=False), _instant(value, end=True)
    parts = value.split("/")
    if len(parts) != 2:
        raise OGCError(_("datetime : un intervalle a deux bornes séparées par « / »."))
    start_text, end_text = parts
    start = None if start_text in ("", "..") else _instant(start_text, end=False)
    end = None if end_text in ("", "..") else _instant(end_text, end=True)
    if start is None and end is None:
        raise OGCError(_("datetime : au moins une borne de l'intervalle doit être donnée."))
    if start is not None and end is not None and start > end:
        raise OGCError(_("datetime : le début de l'intervalle est après sa fin."))
    return start, end


def _integer(value: str, name: str) -> int:
    if not re.fullmatch(r"[+]?\d+", value.strip()):
        raise OGCError(_("%(name)s : un entier positif est attendu.") % {"name": name})
    return int(value)


def parse_limit(value: str | None) -> int:
    """Default 100; above the maximum the server clamps (OGC API – Features, 7.15.3); below 1 is an error."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    number = _integer(value, "limit")
    if number < 1:
        raise OGCError(_("limit : la valeur doit être au moins 1."))
    return min(number, MAX_LIMIT)


# Far beyond any page that exists, and within PostgreSQL's bigint OFFSET.
MAX_OFFSET = 10**9


def parse_offset(value: str | None) -> int:
    if value is None or value == "":
        return 0
    number = _integer(value, "offset")
    if number > MAX_OFFSET:
        raise OGCError(_("offset : la valeur doit être au plus %(max)d.") % {"max": MAX_OFFSET})
    return number


def parse_format(value: str | None) -> None:
    """Only JSON is served: ``f=json`` (or ``geojson``) is fine, anything else is refused."""
    if value not in (None, "", "json", "geojson"):
        raise OGCError(_("f : seul le format json est disponible."))
