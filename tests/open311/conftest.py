"""Fixtures of the Open311 tests: the signalements test town, an API key, a town with a history,
and the GeoReport v2 material (examples and JSON Schemas) from /work/shared/data/open311/."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from signalements.models import ApiClient, Report
from signalements.open311 import keys
from signalements.photos import photo_process
from signalements.services import ContactInput, report_create, ticket_public_update, ticket_transition
from tests.signalements.world import World, at, gps_jpeg
from tests.signalements.world import world as world

SPEC = Path("/work/shared/data/open311")
EXAMPLES = SPEC / "spec_examples"
SCHEMAS = SPEC / "json_schema_georeport_v2"

# The reporter of the town's reports, and the staff's internal note: never in a public answer.
PERSONAL = ("Jeanne", "Martin", "jeanne.martin", "612345678", "Code portail")
CONTACT = ContactInput(name="Jeanne Martin", email="jeanne.martin@example.net", phone="+33 6 12 34 56 78")


# --- Specification material -----------------------------------------------------------------------


def example_json(name: str) -> Any:
    """A JSON example of the spec. Three of them are not JSON (``"service_code":006``): the bare numbers
    with leading zeros are quoted first, which is what the spec means (ids and codes are strings)."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    text = text[text.index("[") if text.lstrip().startswith("HTTP") else 0 :]
    text = re.sub(r":(\s*)(0\d+)(\s*[,}\n])", r':\1"\2"\3', text)
    return json.loads(text)


def example_xml(name: str) -> ET.Element:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return ET.fromstring(text[text.index("<?xml") :].encode())


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return "T" in value and datetime.fromisoformat(value).tzinfo is not None

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = urlparse(value)
        return parsed.scheme in ("http", "https") and bool(parsed.netloc)

    return checker


def _registry() -> Registry:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4))
        for path in SCHEMAS.glob("*.json")
        if path.name != "swagger.json"
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()
FORMATS = _format_checker()


def validator(name: str) -> Draft4Validator:
    """A draft-04 validator of ``json_schema_georeport_v2/<name>``, its ``$ref`` resolved in that folder."""
    return Draft4Validator(
        json.loads((SCHEMAS / name).read_text()), registry=REGISTRY, format_checker=FORMATS
    )


def swagger_validator(definition: str, **overrides: Any) -> Draft4Validator:
    """A validator of one definition of ``swagger.json`` (for answers the schema folder has no file for)."""
    schema = json.loads((SCHEMAS / "swagger.json").read_text())["definitions"][definition]
    schema = {**schema, "properties": {**schema["properties"], **overrides}}
    return Draft4Validator(schema, format_checker=FORMATS)


def assert_valid(instance: Any, schema: str | Draft4Validator) -> None:
    checker = validator(schema) if isinstance(schema, str) else schema
    errors = sorted(checker.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def no_personal_data(text: str) -> None:
    for fragment in PERSONAL:
        assert fragment not in text, f"{fragment!r} in a public answer: {text[:400]}"


def xml_of(response: Any) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def json_of(response: Any) -> Any:
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


# --- Data -----------------------------------------------------------------------------------------


@dataclass
class ApiKey:
    client: ApiClient
    key: str


@pytest.fixture
def api_key(world: World) -> ApiKey:
    client, key = keys.api_client_create(name="Appli citoyenne")
    return ApiKey(client, key)


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


@dataclass
class Town:
    world: World
    west: Report  # pothole, west: acknowledged, with a public message and an internal note; a photo
    east: Report  # pothole, east: resolved
    lamp: Report  # street light: new, with a public update
    old: Report  # filed 120 days ago: outside the default window


@pytest.fixture
def town(world: World, media) -> Town:  # type: ignore[no-untyped-def]
    def file(east_m: float, north_m: float, category: str, text: str, **extra: Any) -> Report:
        lon, lat = at(east_m, north_m)
        return report_create(
            category=category, lon=lon, lat=lat, description=text, contact=CONTACT, **extra
        ).report

    photo = SimpleUploadedFile("trou.jpg", gps_jpeg(*at(-500, 100)), content_type="image/jpeg")
    west = file(
        -500, 100, "nid-de-poule", "Trou profond devant le 12", address="12 rue de l'Ouest", photos=[photo]
    )
    photo_process(photo_id=west.photos.get().pk)
    east = file(500, 100, "nid-de-poule", "Nid de poule rue de l'Est")
    lamp = file(0, 600, "lampadaire", "Lampadaire éteint place de la Mairie")
    old = file(-800, -300, "nid-de-poule", "Vieux trou", created_at=timezone.now() - timedelta(days=120))

    ticket_transition(
        ticket=west.ticket,
        actor=world.agent_west,
        to_state="pris_en_compte",
        public_message="Nous intervenons mardi.",
        internal_note="Code portail 4321",
    )
    ticket_transition(
        ticket=east.ticket, actor=world.agent_east, to_state="resolu", public_message="Rebouché."
    )
    ticket_public_update(ticket=lamp.ticket, actor=world.manager, message="Une équipe passe cette semaine.")
    return Town(world, west, east, lamp, old)
