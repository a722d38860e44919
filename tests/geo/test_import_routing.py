"""A layer delivered in Lambert-93 routes exactly like the same layer in WGS84."""

import json
import subprocess
from pathlib import Path

import pytest

from geo.models import Zone
from geo.routing import route
from geo.services import territory_import, zones_import
from geo.srid import LAMBERT93_SRID
from tests.factories import PARIS_LAT, PARIS_LON, CategoryFactory, OrganisationFactory, offset, square

pytestmark = pytest.mark.django_db

# Two sectors of two services sharing the meridian of the reference point.
SECTORS = {"Ouest": square(-800, -800, 0, 800), "Est": square(0, -800, 800, 800)}
# Points at 40 m, 3 m and 0.5 m on either side of the shared boundary, and deep inside.
PROBES = [(e, n) for e in (-400, -40, -3, -0.5, 0.5, 3, 40, 400) for n in (-500, 0, 500)]


def write_sectors(path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "id": i,
            "properties": {"nom": name, "service": f"Voirie {name}"},
            "geometry": json.loads(g.json),
        }
        for i, (name, g) in enumerate(SECTORS.items(), start=1)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def decisions() -> list[tuple[str, bool]]:
    out = []
    for east, north in PROBES:
        d = route(offset(PARIS_LON, PARIS_LAT, east, north), "nid-de-poule")
        out.append((d.service_name, d.ambiguous))
    return out


def test_lambert93_and_wgs84_layers_route_every_probe_the_same(tmp_path):
    # given the same sectors as a WGS84 GeoJSON and, converted by GDAL, as a Lambert-93 GeoPackage
    wgs84 = write_sectors(tmp_path / "secteurs.geojson")
    lambert = tmp_path / "secteurs_l93.gpkg"
    subprocess.run(["ogr2ogr", "-t_srs", f"EPSG:{LAMBERT93_SRID}", str(lambert), str(wgs84)], check=True)
    OrganisationFactory(name="Ville")
    territory_import(path=wgs84, name="Ville", slug="ville", organisation="Ville")
    voirie = CategoryFactory(code="voirie", name="Voirie")
    CategoryFactory(code="nid-de-poule", name="Nid de poule", parent=voirie)

    # when the probes are routed with the WGS84 layer, then with the Lambert-93 one
    zones_import(
        path=wgs84, name_field="nom", service_field="service", categories=["voirie"], territory="ville"
    )
    from_wgs84 = decisions()
    Zone.objects.all().delete()
    zones_import(
        path=lambert, name_field="nom", service_field="service", categories=["voirie"], territory="ville"
    )
    from_lambert = decisions()

    # then every decision, ambiguity included, is the same, and the sides are right
    assert from_lambert == from_wgs84
    assert [name for name, _ in from_wgs84[:12]] == ["Voirie Ouest"] * 12
    assert [name for name, _ in from_wgs84[12:]] == ["Voirie Est"] * 12
    ambiguous = {PROBES[i][0] for i, (_, amb) in enumerate(from_wgs84) if amb}
    assert ambiguous == {-3, -0.5, 0.5, 3}
