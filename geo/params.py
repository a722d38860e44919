"""Query-string parameters shared by the domains' APIs: bounded integers and WGS84 bboxes.

Why here: both APIs filter lists by the same kinds of parameter and must refuse them with the same
French messages; the bbox goes through ``geo.srid`` so that it always carries its SRID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.gis.geos import Polygon
from django.utils.translation import gettext as _

from geo.errors import DomainValidationFailed
from geo.srid import InvalidGeometry, polygon_from_bbox


def int_param(params: Mapping[str, Any], name: str, default: Any, *, low: int, high: int) -> Any:
    """``params[name]`` as an integer within ``[low, high]``; ``default`` when absent or empty."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise DomainValidationFailed({name: [_("Un nombre entier est attendu.")]}) from exc
    if not low <= value <= high:
        raise DomainValidationFailed(
            {name: [_("Valeur entre %(low)d et %(high)d attendue.") % {"low": low, "high": high}]}
        )
    return value


def bbox_param(raw: str) -> Polygon:
    """``ouest,sud,est,nord`` in WGS84 degrees as a storage-SRID rectangle."""
    try:
        return polygon_from_bbox(*(float(part) for part in raw.split(",")))
    except (TypeError, ValueError, InvalidGeometry) as exc:
        raise DomainValidationFailed(
            {
                "bbox": [
                    _(
                        "bbox attendu : ouest,sud,est,nord en degrés WGS84, l'ouest avant l'est et le sud avant le nord."
                    )
                ]
            }
        ) from exc
