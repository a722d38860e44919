"""factory_boy factories with explicit-SRID geometries (never a bare coordinate tuple)."""

from __future__ import annotations

import factory
from django.contrib.gis.geos import MultiLineString, MultiPolygon, Polygon

from geo import models
from geo.srid import STORAGE_SRID

# A reference point in Paris (Hôtel de Ville) and the size of one metre there, in degrees.
PARIS_LON, PARIS_LAT = 2.3522, 48.8566
# (ellipsoidal lengths of one degree at 48.8566° N)
M_LAT = 1 / 111_208.0
M_LON = 1 / 73_400.6


def offset(lon: float, lat: float, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """Lon/lat moved by metres east and north (good to a few centimetres at city scale)."""
    return lon + east_m * M_LON, lat + north_m * M_LAT


def square(
    west_m: float,
    south_m: float,
    east_m: float,
    north_m: float,
    *,
    lon: float = PARIS_LON,
    lat: float = PARIS_LAT,
) -> MultiPolygon:
    """A rectangle given in metres from a reference point, as a storage-SRID MultiPolygon."""
    x0, y0 = offset(lon, lat, west_m, south_m)
    x1, y1 = offset(lon, lat, east_m, north_m)
    ring = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
    return MultiPolygon(Polygon(ring), srid=STORAGE_SRID)


def line(*points_m: tuple[float, float], lon: float = PARIS_LON, lat: float = PARIS_LAT) -> MultiLineString:
    from django.contrib.gis.geos import LineString

    coords = [offset(lon, lat, e, n) for e, n in points_m]
    return MultiLineString(LineString(coords), srid=STORAGE_SRID)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Commune {n}")
    kind = models.Organisation.Kind.COMMUNE


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Service

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    emails = factory.LazyAttribute(lambda o: [f"service{abs(hash(o.name)) % 1000}@example.org"])


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"categorie-{n}")
    name = factory.Sequence(lambda n: f"Catégorie {n}")


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Territory

    name = factory.Sequence(lambda n: f"Territoire {n}")
    slug = factory.Sequence(lambda n: f"territoire-{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    geom = factory.LazyFunction(lambda: square(-2000, -2000, 2000, 2000))


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Zone
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Zone {n}")
    service = factory.SubFactory(ServiceFactory)
    geom = factory.LazyFunction(lambda: square(-500, -500, 500, 500))
    priority = 0

    @factory.post_generation
    def categories(self, create: bool, extracted: list[models.Category] | None, **kwargs: object) -> None:
        if create and extracted:
            self.categories.set(extracted)


class NetworkLayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.NetworkLayer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Réseau {n}")
    default_tolerance_m = 10.0

    @factory.post_generation
    def categories(self, create: bool, extracted: list[models.Category] | None, **kwargs: object) -> None:
        if create and extracted:
            self.categories.set(extracted)


class NetworkFeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.NetworkFeature

    layer = factory.SubFactory(NetworkLayerFactory)
    name = factory.Sequence(lambda n: f"Route {n}")
    service = factory.SubFactory(ServiceFactory)
    geom = factory.LazyFunction(lambda: line((-1000, 0), (1000, 0)))
