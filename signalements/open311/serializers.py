"""Our rows in the fields of GeoReport v2, and the spec's parameters in our types.

Output: ids and codes are strings, booleans are booleans, coordinates floats, dates ISO 8601 with
their offset (Europe/Paris), an absent value is ``None``. Nothing here reads ``ReportContact``:
public answers are built from ``Report``, ``Ticket``, ``TicketEvent`` and processed photos only.

Input: parameters arrive form-encoded (or in the query string); their checks give messages that
name the spec's parameter, in French through gettext.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from geo.models import Category
from signalements import workflow
from signalements.models import Report, TicketEvent, TicketState
from signalements.open311.renderers import Open311Error
from signalements.services import FiledReport

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMAT_TYPES = ["text/xml", "application/json"]
OPEN, CLOSED = "open", "closed"

# The spec's defaults for GET requests: a span of 90 days, the first 1000 results.
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the offset of the site's time zone: ``2026-11-22T09:15:00+01:00``."""
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else f"{settings.PUBLIC_BASE_URL}{url}"


def open_or_closed(state: str) -> str:
    return OPEN if workflow.is_open(state) else CLOSED


# --- Output --------------------------------------------------------------------------------------


def discovery(*, base_url: str, changeset: str, contact: str, key_service: str) -> dict[str, Any]:
    return {
        "changeset": changeset,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": changeset,
                "type": "test" if settings.DEBUG else "production",
                "formats": FORMAT_TYPES,
            }
        ],
    }


def service(category: Category) -> dict[str, Any]:
    """One leaf category: its code is the ``service_code``, its parent the ``group``."""
    days = category.default_delay.days
    parent = category.parent if category.parent_id else None
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": ngettext(
            "%(path)s. Délai de traitement visé : %(days)d jour.",
            "%(path)s. Délai de traitement visé : %(days)d jours.",
            days,
        )
        % {"path": str(category), "days": days},
        # No category asks extra questions yet: no attributes, so no service definition to fetch.
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(name for name in (parent.name if parent else "", category.name) if name),
        "group": parent.name if parent else None,
    }


def service_definition(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": []}


def _status_notes(report: Report) -> str:
    """The detailed state (« Programmé ») and the last public message, which ``open``/``closed`` hide."""
    label = str(TicketState(report.ticket.state).label)
    message = getattr(report, "last_public_message", None)
    if message:
        return _("%(state)s : %(message)s") % {"state": label, "message": message}
    return label


def _updated(report: Report) -> datetime:
    ticket = report.ticket
    if workflow.is_closed(ticket.state) and ticket.closed_at:
        return ticket.closed_at  # the spec: « for closed requests, the date the request was closed »
    times = [report.updated_at, ticket.updated_at, getattr(report, "last_public_at", None)]
    return max(t for t in times if t is not None)


def _media_url(report: Report) -> str | None:
    """The EXIF-free web copy of the first processed photo; never the original."""
    photos = getattr(report, "public_photos", None)
    if photos is None:
        photos = [p for p in report.photos.order_by("position") if p.processed_at and p.web]
    return absolute(photos[0].web.url) if photos else None


def service_request(report: Report) -> dict[str, Any]:
    """A report as the spec's ``request``, in the order of its example; no personal data."""
    ticket = report.ticket
    return {
        "service_request_id": report.reference,
        "status": open_or_closed(ticket.state),
        "status_notes": _status_notes(report),
        "service_name": report.category.name,
        "service_code": report.category.code,
        "description": report.description or None,
        "agency_responsible": ticket.service.name,
        "service_notice": (ticket.routing or {}).get("explanation") or None,
        "requested_datetime": iso(report.created_at),
        "updated_datetime": iso(_updated(report)),
        "expected_datetime": iso(ticket.due_at),
        "address": report.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(report.location.y, 7),
        "long": round(report.location.x, 7),
        "media_url": _media_url(report),
    }


def filed(result: FiledReport) -> dict[str, Any]:
    """The answer to POST requests: the id at once (we file synchronously) and the routing explanation."""
    return {
        "service_request_id": result.report.reference,
        "service_notice": (result.ticket.routing or {}).get("explanation") or None,
        "account_id": None,
    }


def token(reference: str, value: str) -> dict[str, Any]:
    return {"service_request_id": reference, "token": value}


def request_update(event: TicketEvent) -> dict[str, Any]:
    """A public update in the shape of mySociety's ``servicerequestupdates``; never an internal note."""
    state = event.to_state or getattr(event, "state_then", None) or event.ticket.state
    return {
        "update_id": str(event.pk),
        "service_request_id": event.ticket.report.reference,
        "status": open_or_closed(state),
        "updated_datetime": iso(event.at),
        "description": event.public_message,
        "media_url": None,
        "external_status_code": state,
    }


# --- Input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime | None


def _parse_moment(raw: str, name: str, *, end: bool) -> datetime:
    text = raw.strip()
    # « +01:00 » unencoded in a query string arrives as « 01:00 » after a space.
    if "T" in text:
        text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            raise Open311Error(
                400,
                _("%(name)s : date attendue au format W3C (ISO 8601), par exemple 2026-11-01T00:00:00+01:00.")
                % {"name": name},
            )
        moment = datetime.combine(day, time.max if end else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def date_window(params: QueryDict, *, now: datetime) -> Window:
    """``start_date``/``end_date`` with the spec's rules: 90 days at most, the last 90 days by default."""
    start_raw, end_raw = params.get("start_date", ""), params.get("end_date", "")
    start = _parse_moment(start_raw, "start_date", end=False) if start_raw.strip() else None
    end = _parse_moment(end_raw, "end_date", end=True) if end_raw.strip() else None
    if start is None and end is None:
        return Window(now - MAX_SPAN, None)
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if start > end:
        raise Open311Error(400, _("start_date doit précéder end_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(400, _("L'intervalle entre start_date et end_date ne peut pas dépasser 90 jours."))
    return Window(start, end)


def status_filter(params: QueryDict) -> set[str]:
    raw = params.get("status", "")
    values = {v.strip().lower() for v in raw.split(",") if v.strip()}
    if unknown := values - {OPEN, CLOSED}:
        raise Open311Error(
            400,
            _("status : « open » ou « closed » attendu (reçu : %(values)s).")
            % {"values": ", ".join(sorted(unknown))},
        )
    return values


def codes(params: QueryDict, name: str, *, limit: int = MAX_RESULTS) -> list[str]:
    """A comma-separated list of ids or codes, as the spec allows for ``service_request_id``."""
    values = [v.strip() for v in params.get(name, "").split(",") if v.strip()]
    if len(values) > limit:
        raise Open311Error(400, _("%(name)s : %(max)d valeurs au plus.") % {"name": name, "max": limit})
    return values


def _int(params: QueryDict, name: str, default: int, *, high: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        raise Open311Error(
            400, _("%(name)s : nombre entier entre 1 et %(high)d attendu.") % {"name": name, "high": high}
        )
    return value


def paging(params: QueryDict) -> tuple[int, int]:
    """Our extension (as Chicago, Boston, Toronto…): ``page`` from 1, ``page_size`` up to 1000."""
    return _int(params, "page", 1, high=10**6), _int(params, "page_size", MAX_RESULTS, high=MAX_RESULTS)


@dataclass(frozen=True)
class NewRequest:
    """The parameters of POST requests that we use; the others are read and left (see docs/OPEN311.md)."""

    service_code: str
    lat: float
    lon: float
    description: str
    address: str
    email: str
    name: str
    phone: str


def _float(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise Open311Error(400, _("%(name)s : un nombre décimal est attendu.") % {"name": name}) from exc


def new_request(get: Any) -> NewRequest:
    """Check the shape of a POST: a service code, coordinates (we have no geocoder) and a description."""
    service_code = get("service_code").strip()
    if not service_code:
        raise Open311Error(400, _("service_code est obligatoire."))
    lat_raw, lon_raw = get("lat").strip(), get("long").strip()
    if not (lat_raw and lon_raw):
        raise Open311Error(
            400,
            _(
                "Les coordonnées lat et long (WGS84) sont obligatoires : ce service ne géocode pas les adresses, "
                "address_string ou address_id seuls ne suffisent pas."
            ),
        )
    description = get("description").strip()
    if not description:
        raise Open311Error(400, _("description est obligatoire : décrivez le problème."))
    first, last = get("first_name").strip(), get("last_name").strip()
    return NewRequest(
        service_code=service_code,
        lat=_float(lat_raw, "lat"),
        lon=_float(lon_raw, "long"),
        description=description,
        address=get("address_string").strip(),
        email=get("email").strip(),
        name=" ".join(part for part in (first, last) if part),
        phone=get("phone").strip(),
    )


# Our field names in service errors → the spec's parameter names, for error descriptions.
PARAMETER_OF_FIELD = {
    "location": "lat/long",
    "category": "service_code",
    "description": "description",
    "contact.email": "email",
    "contact.phone": "phone",
    "contact.name": "first_name/last_name",
    "address": "address_string",
}
