"""JSON and XML bodies in the shapes of the GeoReport v2 examples, and the spec's error envelope.

The format comes from the URL suffix (``services.json`` / ``services.xml``), as in the spec. Values
are prepared by ``open311.serializers``: strings for ids and codes, booleans, floats, ISO-8601
dates with their offset, ``None`` for an absent value (``null`` in JSON, an empty element in XML).
XML is only written here, never parsed: the standard library's ElementTree escapes text.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET  # writing only: nothing is parsed here

from django.http import HttpResponse

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
CONTENT_TYPES = {JSON: "application/json; charset=utf-8", XML: "text/xml; charset=utf-8"}

# The element of each item of a list, by the list's name (``<endpoints><endpoint>…``).
ITEM_NAMES = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "services": "service",
    "errors": "error",
    "service_request_updates": "request_update",
}


class Open311Error(Exception):
    """An answer in the spec's error envelope: ``[{"code": 404, "description": "…"}]``.

    ``descriptions`` may hold several messages (one per invalid field); the HTTP status is ``status``.
    """

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.descriptions = [str(d) for d in descriptions] or [""]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _append(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list | tuple):
        item_name = ITEM_NAMES[name]
        for item in value:
            _append(element, item_name, item)
    else:
        element.text = _text(value)


def xml_document(root: str, value: Any) -> bytes:
    """``<?xml …?><root>…</root>``: a list becomes items named after ``ITEM_NAMES[root]``."""
    element = ET.Element(root)
    _fill(element, root, value)
    body = ET.tostring(element, encoding="unicode", short_empty_elements=True)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'.encode()


def render(
    fmt: str, root: str, value: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """The response in ``fmt``; ``root`` names the XML root element (``services``, ``discovery``…)."""
    if fmt == XML:
        content = xml_document(root, value)
    else:
        content = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    response = HttpResponse(content, status=status, content_type=CONTENT_TYPES[fmt])
    for key, header in (headers or {}).items():
        response[key] = header
    return response


def render_error(fmt: str, error: Open311Error) -> HttpResponse:
    """``[{"code": 400, "description": "…"}]`` or ``<errors><error><code>400</code>…``."""
    body = [{"code": error.status, "description": d} for d in error.descriptions]
    return render(fmt if fmt in FORMATS else XML, "errors", body, status=error.status)
