"""Address search for the filing page, done by the server so that no browser talks to a third party.

``settings.GEOCODER_URL`` names a search endpoint answering like the Base Adresse Nationale
(``GET <url>?q=<text>&limit=<n>`` → a GeoJSON FeatureCollection whose features carry a ``label``).
Empty (the default, and in tests unless a loopback fake is started): no search, and the page offers
places and coordinates instead. A slow or broken geocoder gives no results, never an error page.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

logger = logging.getLogger(__name__)
MAX_QUERY = 200
MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class Address:
    label: str
    lon: float
    lat: float


def enabled() -> bool:
    return bool(settings.GEOCODER_URL)


def geocode(query: str, *, limit: int = 5) -> list[Address]:
    """Addresses matching ``query``, best first; [] when off, empty, unreachable or unreadable."""
    text = " ".join((query or "").split())[:MAX_QUERY]
    if not enabled() or len(text) < 3:
        return []
    separator = "&" if "?" in settings.GEOCODER_URL else "?"
    url = f"{settings.GEOCODER_URL}{separator}{urlencode({'q': text, 'limit': limit})}"
    # The scheme is http(s), checked at start-up (config/settings/base.py).
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "Concerto"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.GEOCODER_TIMEOUT_SECONDS) as answer:  # noqa: S310
            data = json.loads(answer.read(MAX_BYTES))
    except (OSError, urllib.error.URLError, ValueError) as exc:
        logger.warning("geocoder unavailable: %s", exc)
        return []
    found: list[Address] = []
    for feature in (data.get("features") or [])[:limit] if isinstance(data, dict) else []:
        try:
            lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
            label = str(feature.get("properties", {}).get("label") or "").strip()[:300]
        except (KeyError, TypeError, ValueError):
            continue
        if label and -180 <= lon <= 180 and -90 <= lat <= 90:
            found.append(Address(label=label, lon=lon, lat=lat))
    return found
