"""A small town for the signalements tests: two road services split east/west, lighting by default.

Import the fixtures into a test module (``from tests.signalements.world import *``) to use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from geo.models import Category, DefaultService, Membership, Organisation, Service, Territory
from tests.factories import (
    PARIS_LAT,
    PARIS_LON,
    CategoryFactory,
    OrganisationFactory,
    ServiceFactory,
    TerritoryFactory,
    ZoneFactory,
    offset,
    square,
)

__all__ = ["World", "at", "gps_jpeg", "world"]


def at(east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """Lon/lat of a point given in metres from the Hôtel de Ville."""
    return offset(PARIS_LON, PARIS_LAT, east_m, north_m)


@dataclass
class World:
    organisation: Organisation
    territory: Territory
    voirie: Category
    nid: Category
    lampadaire: Category
    west: Service
    east: Service
    lighting: Service
    agent_west: object
    agent_east: object
    manager: object
    outsider: object


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    org = OrganisationFactory(name="Ville de Test")
    territory = TerritoryFactory(
        name="Test", slug="test", organisation=org, geom=square(-2000, -2000, 2000, 2000)
    )
    voirie = CategoryFactory(code="voirie", name="Voirie")
    nid = CategoryFactory(code="nid-de-poule", name="Nid de poule", parent=voirie)
    eclairage = CategoryFactory(code="eclairage", name="Éclairage")
    lampadaire = CategoryFactory(code="lampadaire", name="Lampadaire éteint", parent=eclairage)
    west = ServiceFactory(organisation=org, name="Voirie Ouest", emails=["voirie-ouest@example.org"])
    east = ServiceFactory(organisation=org, name="Voirie Est", emails=["voirie-est@example.org"])
    lighting = ServiceFactory(organisation=org, name="Éclairage public", emails=["eclairage@example.org"])
    ZoneFactory(name="Secteur Ouest", service=west, categories=[voirie], geom=square(-2000, -2000, 0, 2000))
    ZoneFactory(name="Secteur Est", service=east, categories=[voirie], geom=square(0, -2000, 2000, 2000))
    DefaultService.objects.create(territory=territory, category=eclairage, service=lighting)
    users = get_user_model().objects

    def member(username: str, role: str, service: Service | None) -> object:
        user = users.create_user(username=username, password="x", email=f"{username}@example.org")
        Membership.objects.create(user=user, organisation=org, service=service, role=role)
        return user

    return World(
        organisation=org,
        territory=territory,
        voirie=voirie,
        nid=nid,
        lampadaire=lampadaire,
        west=west,
        east=east,
        lighting=lighting,
        agent_west=member("agent-ouest", Membership.Role.AGENT, west),
        agent_east=member("agent-est", Membership.Role.AGENT, east),
        manager=member("responsable", Membership.Role.SERVICE_MANAGER, None),
        outsider=users.create_user(username="citoyen", password="x"),
    )


def gps_jpeg(lon: float, lat: float, *, size: tuple[int, int] = (800, 600)) -> bytes:
    """A real JPEG as a phone writes it: camera make and model, date, and a GPS fix at lon/lat."""
    import io
    from fractions import Fraction

    from PIL import Image, TiffImagePlugin

    def dms(value: float) -> tuple:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(10000)
        return tuple(TiffImagePlugin.IFDRational(x) for x in (degrees, minutes, seconds))

    exif = Image.Exif()
    exif[0x010F] = "Camerafone"
    exif[0x0110] = "Modèle de Jeanne Martin"
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 09:15:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(lon)
    picture = Image.new("RGB", size)
    for x in range(0, size[0], 16):
        for y in range(0, size[1], 16):
            picture.putpixel((x, y), (x % 256, y % 256, (x * y) % 256))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()
