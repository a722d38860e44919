"""Imports of real GIS files (GeoJSON, Shapefile, zipped Shapefile, GeoPackage) through GDAL.

Fixtures are written as GeoJSON in ``tmp_path`` and converted with ``ogr2ogr``, so that each test
shows the data it reads and the other formats are produced by GDAL itself, as in real life.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError

from geo.importers import ImportFileError
from geo.models import NetworkFeature, NetworkLayer, Organisation, Service, Territory, Zone
from geo.services import network_import, territory_import, zones_import
from geo.srid import LAMBERT93_SRID, STORAGE_SRID
from tests.factories import (
    PARIS_LAT,
    PARIS_LON,
    CategoryFactory,
    OrganisationFactory,
    ServiceFactory,
    TerritoryFactory,
    ZoneFactory,
    line,
    offset,
    square,
)

# ogr2ogr comes with gdal-bin, which deploy/install-system.sh installs: a missing one is a failure.
pytestmark = pytest.mark.django_db


# --- Fixture builders ----------------------------------------------------------------------------


def feature(fid: int, geometry: GEOSGeometry | dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    if isinstance(geometry, GEOSGeometry):
        geometry = json.loads(geometry.json)
    return {"type": "Feature", "id": fid, "properties": properties, "geometry": geometry}


def write_geojson(path: Path, features: list[dict[str, Any]], *, crs: str | None = None) -> Path:
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def ogr2ogr(*args: str | Path) -> None:
    subprocess.run(["ogr2ogr", *map(str, args)], check=True, capture_output=True)


def bowtie(size_m: float = 200.0) -> dict[str, Any]:
    """A self-intersecting ring (invalid): GEOS MakeValid turns it into two triangles."""
    a, b = offset(PARIS_LON, PARIS_LAT, 0, 0), offset(PARIS_LON, PARIS_LAT, size_m, size_m)
    c, d = offset(PARIS_LON, PARIS_LAT, size_m, 0), offset(PARIS_LON, PARIS_LAT, 0, size_m)
    return {"type": "Polygon", "coordinates": [[a, b, c, d, a]]}


# Three zones around the Hôtel de Ville, in metres east/north of it.
NORD = square(0, 0, 500, 500)
SUD = square(0, -500, 500, 0)
EST = square(500, 0, 1000, 500)
INSIDE = {"Nord": (250, 250), "Sud": (250, -250), "Est": (750, 250)}


@pytest.fixture
def zones_4326(tmp_path: Path) -> Path:
    """The reference layer: GeoJSON in WGS84 (no ``crs`` member, as RFC 7946 says)."""
    return write_geojson(
        tmp_path / "zones.geojson",
        [
            feature(1, NORD, nom="Nord", service="Voirie", prio=1, maj="2024-03-01", code_insee="75104"),
            feature(2, SUD, nom="Sud", service="Propreté", prio=2, maj="2024-03-02", code_insee="75104"),
            feature(3, EST, nom="Est", service="Voirie", prio=0, maj=None, code_insee="75104"),
        ],
    )


@pytest.fixture
def zones_l93(tmp_path: Path, zones_4326: Path) -> Path:
    """The same layer reprojected by GDAL to Lambert-93, as French GIS teams deliver it."""
    target = tmp_path / "zones_l93.geojson"
    ogr2ogr("-t_srs", f"EPSG:{LAMBERT93_SRID}", target, zones_4326)
    return target


@pytest.fixture
def zones_shp(tmp_path: Path, zones_4326: Path) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    target = folder / "zones_l93.shp"
    ogr2ogr("-t_srs", f"EPSG:{LAMBERT93_SRID}", target, zones_4326)
    return target


@pytest.fixture
def organisation() -> Organisation:
    return OrganisationFactory(name="Ville de Paris")


def import_reference(path: Path, **options: Any) -> Any:
    return zones_import(path=path, name_field="nom", service_field="service", **options)


def zones_by_name(source: str) -> dict[str, Zone]:
    return {zone.name: zone for zone in Zone.objects.filter(source=source)}


def assert_same_geometry(actual: GEOSGeometry, expected: GEOSGeometry) -> None:
    assert actual.srid == expected.srid == STORAGE_SRID
    assert actual.sym_difference(expected).area < 1e-6 * expected.area


def assert_reference_zones(source: str) -> None:
    zones = zones_by_name(source)
    assert sorted(zones) == ["Est", "Nord", "Sud"]
    for name, expected in {"Nord": NORD, "Sud": SUD, "Est": EST}.items():
        assert_same_geometry(zones[name].geom, expected)
        inside = Point(*offset(PARIS_LON, PARIS_LAT, *INSIDE[name]), srid=STORAGE_SRID)
        assert zones[name].geom.contains(inside)


def run(command: str, *args: Any, **options: Any) -> str:
    out = StringIO()
    call_command(command, *map(str, args), stdout=out, **options)
    return out.getvalue()


# --- Formats and coordinate systems ------------------------------------------------------------


def test_geojson_in_wgs84_creates_zones_services_and_attributes(zones_4326: Path, organisation: Organisation):
    # given a GeoJSON layer in WGS84 and one organisation
    # when it is imported
    report = import_reference(zones_4326, priority_field="prio")

    # then each feature is a zone with its service (created by name), priority, source and attributes
    assert (report.features_read, report.created, report.updated, report.deleted) == (3, 3, 0, 0)
    assert report.crs == "EPSG:4326"
    assert report.services_created == ["Propreté", "Voirie"]
    assert set(Service.objects.filter(organisation=organisation).values_list("name", flat=True)) == {
        "Voirie",
        "Propreté",
    }
    assert_reference_zones("zones:zones")
    nord = Zone.objects.get(source="zones:zones", source_id="1")
    assert nord.service.name == "Voirie"
    assert nord.priority == 1
    assert nord.all_categories is True
    assert nord.attributes == {"maj": "2024-03-01", "code_insee": "75104"}
    assert isinstance(nord.geom, MultiPolygon)


def test_lambert93_file_imports_to_the_same_geometries_as_wgs84(
    zones_4326: Path, zones_l93: Path, organisation: Organisation
):
    # given the same layer in WGS84 and in Lambert-93 (made by ogr2ogr -t_srs EPSG:2154)
    # when both are imported
    import_reference(zones_4326)
    report = import_reference(zones_l93)

    # then the CRS read is Lambert-93 and the stored geometries are the WGS84 ones
    assert report.crs == "EPSG:2154"
    assert_reference_zones("zones_l93:zones")
    wgs84, l93 = zones_by_name("zones:zones"), zones_by_name("zones_l93:zones")
    for name in wgs84:
        assert_same_geometry(l93[name].geom, wgs84[name].geom)


def test_coordinates_come_out_lon_lat_whatever_gdal_axis_order(tmp_path: Path, organisation: Organisation):
    # given a point in Paris stored as lon/lat in a GeoJSON that names EPSG:4326 explicitly,
    # and in a GeoPackage whose CRS is EPSG:4326 (GDAL 3 defines it latitude first)
    explicit = write_geojson(
        tmp_path / "explicit.geojson",
        [feature(1, NORD, nom="Nord", service="Voirie")],
        crs="urn:ogc:def:crs:EPSG::4326",
    )
    gpkg = tmp_path / "wgs84.gpkg"
    ogr2ogr("-f", "GPKG", "-a_srs", "EPSG:4326", gpkg, explicit)

    # when both are imported
    import_reference(explicit)
    import_reference(gpkg)

    # then x is the longitude (≈ 2.35) and y the latitude (≈ 48.86), never swapped
    for source in ("explicit:explicit", "wgs84:explicit"):
        centroid = Zone.objects.get(source=source).geom.centroid
        assert centroid.x == pytest.approx(PARIS_LON, abs=0.01)
        assert centroid.y == pytest.approx(PARIS_LAT, abs=0.01)


def test_shapefile_and_zipped_shapefile(tmp_path: Path, zones_shp: Path, organisation: Organisation):
    # given a Lambert-93 Shapefile, and the same files zipped inside a folder of an archive
    archive = tmp_path / "livraison.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in zones_shp.parent.iterdir():
            zf.write(part, f"donnees/{part.name}")

    # when both are imported
    shp_report = import_reference(zones_shp)
    zip_report = import_reference(archive)

    # then both give the reference zones, with the Shapefile's FIDs as source ids
    assert shp_report.crs == zip_report.crs == "EPSG:2154"
    assert zip_report.source == "livraison:zones_l93"
    assert_reference_zones("zones_l93:zones_l93")
    assert_reference_zones("livraison:zones_l93")
    assert set(Zone.objects.filter(source="livraison:zones_l93").values_list("source_id", flat=True)) == {
        "0",
        "1",
        "2",
    }


def test_geopackage_with_two_layers_needs_layer(tmp_path: Path, zones_4326: Path, organisation: Organisation):
    # given a GeoPackage with a polygon layer (in Lambert-93) and a line layer
    gpkg = tmp_path / "sig.gpkg"
    ogr2ogr("-f", "GPKG", "-t_srs", "EPSG:2154", "-nln", "secteurs", gpkg, zones_4326)
    lines = write_geojson(tmp_path / "routes.geojson", [feature(1, line((0, 0), (100, 0)), nom="Rue")])
    ogr2ogr("-f", "GPKG", "-update", "-nln", "routes", gpkg, lines)

    # when it is imported without --layer, with an unknown layer, then with --layer
    with pytest.raises(ImportFileError, match=r"plusieurs couches.*secteurs, routes"):
        import_reference(gpkg)
    with pytest.raises(
        ImportFileError, match=r"« parcs » introuvable.*Couches disponibles : secteurs, routes"
    ):
        import_reference(gpkg, layer="parcs")
    report = import_reference(gpkg, layer="secteurs")

    # then only the chosen layer is read
    assert report.source == "sig:secteurs"
    assert report.crs == "EPSG:2154"
    assert_reference_zones("sig:secteurs")


def test_file_without_crs_needs_source_srid(zones_shp: Path, organisation: Organisation):
    # given a Lambert-93 Shapefile whose .prj was lost
    zones_shp.with_suffix(".prj").unlink()

    # when it is imported without, then with --source-srid
    with pytest.raises(ImportFileError, match=r"ne déclare pas de système de coordonnées.*--source-srid"):
        import_reference(zones_shp)
    assert Zone.objects.count() == 0
    report = import_reference(zones_shp, source_srid=LAMBERT93_SRID)

    # then the declared SRID is used and the zones land where they belong
    assert report.crs == "EPSG:2154"
    assert_reference_zones("zones_l93:zones_l93")


def test_source_srid_overrides_the_declared_crs_with_a_warning(tmp_path: Path, organisation: Organisation):
    # given Lambert-93 coordinates in a GeoJSON that wrongly claims to be WGS84 (no crs member)
    l93 = NORD.transform(LAMBERT93_SRID, clone=True)
    path = write_geojson(tmp_path / "faux.geojson", [feature(1, l93, nom="Nord", service="Voirie")])

    # when it is imported with --source-srid 2154
    report = import_reference(path, source_srid=LAMBERT93_SRID)

    # then the forced CRS wins and the report says so
    assert report.crs == "EPSG:2154"
    assert any("EPSG:4326" in warning for warning in report.warnings)
    assert_same_geometry(Zone.objects.get().geom, NORD)


# --- Geometry repair ---------------------------------------------------------------------------


def test_bowtie_polygon_is_repaired_and_counted(tmp_path: Path, organisation: Organisation):
    # given a valid square and a self-intersecting bow-tie
    path = write_geojson(
        tmp_path / "noeud.geojson",
        [feature(1, NORD, nom="Nord", service="Voirie"), feature(2, bowtie(), nom="Noeud", service="Voirie")],
    )

    # when the layer is imported through the command
    out = run("import_zones", path, name_field="nom", service_field="service")

    # then the bow-tie is stored as a valid MultiPolygon of its two triangles, and reported
    assert "Géométries réparées : 1 (entités 2)" in out
    repaired = Zone.objects.get(name="Noeud").geom
    assert repaired.valid
    assert isinstance(repaired, MultiPolygon)
    assert len(repaired) == 2
    assert Zone.objects.get(name="Nord").geom.valid


def test_polygons_become_multipolygons(tmp_path: Path, organisation: Organisation):
    # given a plain Polygon feature
    polygon = Polygon(NORD[0].coords[0], srid=STORAGE_SRID)
    path = write_geojson(tmp_path / "simple.geojson", [feature(1, polygon, nom="Nord", service="Voirie")])

    # when it is imported
    report = import_reference(path)

    # then it is stored as a one-part MultiPolygon, which is not a repair
    assert report.repaired == 0
    geom = Zone.objects.get().geom
    assert geom.geom_type == "MultiPolygon"
    assert len(geom) == 1


# --- Refusals: nothing imported ------------------------------------------------------------------


def _refusal_cases(tmp_path: Path, zones_4326: Path) -> dict[str, tuple[Path, dict[str, Any], str]]:
    empty = write_geojson(tmp_path / "vide.geojson", [])
    broken = tmp_path / "casse.geojson"
    broken.write_bytes(b"\x00\x01 ceci n'est pas un fichier SIG")
    lines = write_geojson(
        tmp_path / "lignes.geojson", [feature(1, line((0, 0), (100, 0)), nom="Rue", service="Voirie")]
    )
    null_geom = write_geojson(
        tmp_path / "trou.geojson",
        [feature(1, NORD, nom="Nord", service="Voirie"), feature(7, None, nom="Sans forme", service="Eau")],
    )
    return {
        "missing field": (
            zones_4326,
            {"name_field": "libelle"},
            "Champ « libelle » absent.*Champs disponibles : nom, service, prio, maj, code_insee",
        ),
        "empty layer": (empty, {}, "est vide"),
        "unreadable file": (broken, {}, "Fichier illisible"),
        "missing file": (tmp_path / "absent.geojson", {}, "Fichier introuvable"),
        "line layer": (lines, {}, "contient des lignes ; elle doit contenir des polygones"),
        "null geometry": (null_geom, {}, "entité 7 : géométrie absente"),
        "bad priority": (zones_4326, {"priority_field": "maj"}, "entité 1 : priorité invalide"),
        "unknown category": (
            zones_4326,
            {"categories": ["voirie", "inconnue"]},
            "inconnue\\(s\\) : inconnue",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing field",
        "empty layer",
        "unreadable file",
        "missing file",
        "line layer",
        "null geometry",
        "bad priority",
        "unknown category",
    ],
)
def test_refused_imports_change_nothing(
    tmp_path: Path, zones_4326: Path, organisation: Organisation, case: str
):
    # given existing zones and services, and a file or option that cannot be imported
    CategoryFactory(code="voirie")
    ZoneFactory(service=ServiceFactory(organisation=organisation))
    zones_before, services_before = Zone.objects.count(), Service.objects.count()
    path, options, message = _refusal_cases(tmp_path, zones_4326)[case]
    options = {"name_field": "nom", "service_field": "service", **options}

    # when the import is attempted
    with pytest.raises(ImportFileError, match=message):
        zones_import(path=path, **options)

    # then nothing was written
    assert Zone.objects.count() == zones_before
    assert Service.objects.count() == services_before


def test_command_turns_refusals_into_command_errors(tmp_path: Path, organisation: Organisation):
    # given a feature without geometry
    path = write_geojson(tmp_path / "trou.geojson", [feature(4, None, nom="Sans forme", service="Eau")])

    # when the command runs, then it fails with the French message and imports nothing
    with pytest.raises(CommandError, match=r"Import refusé.*entité 4 : géométrie absente"):
        run("import_zones", path, name_field="nom", service_field="service")
    assert not Service.objects.filter(name="Eau").exists()


def test_organisation_must_be_known(zones_4326: Path):
    # given two organisations and a territory of the second
    OrganisationFactory(name="Département")
    paris = OrganisationFactory(name="Ville de Paris")
    TerritoryFactory(name="Paris", slug="paris", organisation=paris)

    # when imported without saying for whom, then with --territory
    with pytest.raises(ImportFileError, match="Plusieurs organisations"):
        import_reference(zones_4326)
    with pytest.raises(ImportFileError, match="Organisation inconnue : « Mairie »"):
        import_reference(zones_4326, organisation="Mairie")
    import_reference(zones_4326, territory="paris")

    # then the services are created under the territory's organisation
    assert set(Service.objects.filter(organisation=paris).values_list("name", flat=True)) == {
        "Voirie",
        "Propreté",
    }


# --- Re-imports, replace, dry run ---------------------------------------------------------------


def test_reimport_is_idempotent(zones_4326: Path, organisation: Organisation):
    # given a layer imported once
    import_reference(zones_4326, priority_field="prio")
    ids_before = set(Zone.objects.values_list("pk", flat=True))

    # when it is imported again
    out = run("import_zones", zones_4326, name_field="nom", service_field="service", priority_field="prio")

    # then the same rows are updated, nothing is created twice
    assert "Zones créé(e)s : 0, mis(es) à jour : 3, supprimé(e)s : 0" in out
    assert "Services créés : aucun" in out
    assert set(Zone.objects.values_list("pk", flat=True)) == ids_before
    assert Service.objects.count() == 2


def test_reimport_updates_changed_features(tmp_path: Path, zones_4326: Path, organisation: Organisation):
    # given a layer imported once, then corrected (Nord moves service and grows)
    import_reference(zones_4326)
    corrected = write_geojson(
        tmp_path / "zones.geojson",
        [feature(1, square(0, 0, 800, 800), nom="Nord élargi", service="Parcs", prio=1)],
    )

    # when the corrected file is imported
    report = import_reference(corrected)

    # then the zone of FID 1 is rewritten in place
    nord = Zone.objects.get(source="zones:zones", source_id="1")
    assert (report.created, report.updated) == (0, 1)
    assert (nord.name, nord.service.name) == ("Nord élargi", "Parcs")
    assert_same_geometry(nord.geom, square(0, 0, 800, 800))
    assert Zone.objects.count() == 3


def test_replace_deletes_zones_absent_from_the_file(
    tmp_path: Path, zones_4326: Path, organisation: Organisation
):
    # given a layer imported once, a zone from another source, and a new version without "Est"
    import_reference(zones_4326)
    other = ZoneFactory(
        source="autre:couche", source_id="3", service=ServiceFactory(organisation=organisation)
    )
    smaller = write_geojson(
        tmp_path / "zones.geojson",
        [feature(1, NORD, nom="Nord", service="Voirie"), feature(2, SUD, nom="Sud", service="Propreté")],
    )

    # when the new version is imported without, then with --replace
    assert import_reference(smaller).deleted == 0
    assert Zone.objects.filter(source="zones:zones").count() == 3
    out = run("import_zones", smaller, name_field="nom", service_field="service", replace=True)

    # then only the absent zone of that source is deleted
    assert "supprimé(e)s : 1" in out
    assert sorted(zones_by_name("zones:zones")) == ["Nord", "Sud"]
    assert Zone.objects.filter(pk=other.pk).exists()


def test_dry_run_reports_and_changes_nothing(zones_4326: Path, organisation: Organisation):
    # given an empty database but for the organisation
    # when the import runs with --dry-run
    out = run("import_zones", zones_4326, name_field="nom", service_field="service", dry_run=True)

    # then the report is the real one, and nothing is stored
    assert "Zones créé(e)s : 3" in out
    assert "Services créés : Propreté, Voirie" in out
    assert "Simulation (--dry-run) : aucune modification n'a été enregistrée." in out
    assert Zone.objects.count() == 0
    assert Service.objects.count() == 0


def test_categories_and_constant_priority(zones_4326: Path, organisation: Organisation):
    # given two categories
    voirie, eclairage = CategoryFactory(code="voirie"), CategoryFactory(code="eclairage")

    # when the zones are imported for those categories with a constant priority
    run(
        "import_zones",
        zones_4326,
        name_field="nom",
        service_field="service",
        categories="voirie, eclairage",
        priority=5,
    )

    # then each zone covers exactly those categories, with that priority
    for zone in Zone.objects.all():
        assert zone.all_categories is False
        assert set(zone.categories.all()) == {voirie, eclairage}
        assert zone.priority == 5


def test_command_summary(zones_l93: Path, organisation: Organisation):
    # given a Lambert-93 file
    # when imported through the command
    out = run(
        "import_zones", zones_l93, name_field="nom", service_field="service", organisation="Ville de Paris"
    )

    # then the summary gives the counts, the CRS and the services created
    assert "Système de coordonnées lu : EPSG:2154" in out
    assert "Entités lues : 3" in out
    assert "Zones créé(e)s : 3, mis(es) à jour : 0, supprimé(e)s : 0" in out
    assert "Géométries réparées : 0" in out
    assert "Services créés : Propreté, Voirie" in out


# --- Network -----------------------------------------------------------------------------------


@pytest.fixture
def roads_l93(tmp_path: Path) -> Path:
    """Two roads in Lambert-93; one is a plain LineString, the other a MultiLineString."""
    rue = line((0, 0), (300, 0))[0]
    quai = line((0, 100), (300, 100))
    wgs84 = write_geojson(
        tmp_path / "routes_src.geojson",
        [
            feature(10, rue, nom="Rue de Rivoli", gestion="Voirie", tol=5),
            feature(11, quai, nom="Quai de l'Hôtel de Ville", gestion="Direction des berges", tol=None),
        ],
    )
    target = tmp_path / "routes.geojson"
    ogr2ogr("-t_srs", "EPSG:2154", "-nln", "routes", target, wgs84)
    return target


def test_network_import_creates_layer_and_features(roads_l93: Path, organisation: Organisation):
    # given a category and a Lambert-93 line layer
    voirie = CategoryFactory(code="voirie")

    # when it is imported through the command
    out = run(
        "import_network",
        roads_l93,
        layer_name="Voies communales",
        service_field="gestion",
        name_field="nom",
        tolerance_field="tol",
        tolerance=12.5,
        categories="voirie",
    )

    # then the layer carries the categories and tolerance, and each road is a MultiLineString
    network = NetworkLayer.objects.get(name="Voies communales")
    assert network.default_tolerance_m == 12.5
    assert list(network.categories.all()) == [voirie]
    rivoli = NetworkFeature.objects.get(name="Rue de Rivoli")
    assert rivoli.geom.geom_type == "MultiLineString"
    assert rivoli.tolerance_m == 5
    assert rivoli.service.name == "Voirie"
    assert (rivoli.source, rivoli.source_id) == ("routes:routes", "10")
    start = rivoli.geom[0][0]
    assert start[0] == pytest.approx(PARIS_LON, abs=1e-6)
    assert start[1] == pytest.approx(PARIS_LAT, abs=1e-6)
    assert NetworkFeature.objects.get(source_id="11").tolerance_m is None
    assert "Services créés : Direction des berges, Voirie" in out
    assert "Tronçons créé(e)s : 2" in out


def test_network_reimport_is_idempotent_and_replace_deletes(roads_l93: Path, organisation: Organisation):
    # given a network imported once and an extra feature of the same source
    network_import(path=roads_l93, layer_name="Voies", service_field="gestion", name_field="nom")
    NetworkFeature.objects.create(
        layer=NetworkLayer.objects.get(name="Voies"),
        service=Service.objects.get(name="Voirie"),
        geom=line((0, 0), (10, 0)),
        source="routes:routes",
        source_id="99",
    )

    # when imported again, then with replace
    again = network_import(path=roads_l93, layer_name="Voies", service_field="gestion", name_field="nom")
    replaced = network_import(
        path=roads_l93, layer_name="Voies", service_field="gestion", name_field="nom", replace=True
    )

    # then features are updated in place and the absent one is deleted
    assert (again.created, again.updated, again.deleted) == (0, 2, 0)
    assert (replaced.created, replaced.updated, replaced.deleted) == (0, 2, 1)
    assert set(NetworkFeature.objects.values_list("source_id", flat=True)) == {"10", "11"}


def test_network_refuses_a_polygon_layer(zones_4326: Path, organisation: Organisation):
    # given a polygon layer
    # when it is given to import_network, then it is refused and nothing is created
    with pytest.raises(CommandError, match="contient des polygones ; elle doit contenir des lignes"):
        run("import_network", zones_4326, layer_name="Voies", service_field="service")
    assert not NetworkLayer.objects.exists()


# --- Territory ---------------------------------------------------------------------------------


def test_territory_dissolves_adjacent_squares(tmp_path: Path):
    # given two adjacent 1 km squares in Lambert-93 (e.g. two IRIS of a commune)
    west, east = square(-1000, 0, 0, 1000), square(0, 0, 1000, 1000)
    wgs84 = write_geojson(tmp_path / "iris_src.geojson", [feature(1, west), feature(2, east)])
    path = tmp_path / "iris.gpkg"
    ogr2ogr("-f", "GPKG", "-t_srs", "EPSG:2154", "-nln", "iris", path, wgs84)

    # when they are imported as a territory through the command
    out = run(
        "import_territory",
        path,
        name="Paris Centre",
        slug="paris-centre",
        organisation="Mairie de Paris Centre",
        organisation_kind="commune",
    )

    # then the outline is one polygon whose area is the sum of both, and the organisation exists
    territory = Territory.objects.get(slug="paris-centre")
    assert len(territory.geom) == 1
    expected_area = west.transform(LAMBERT93_SRID, clone=True).area * 2
    assert territory.geom.transform(LAMBERT93_SRID, clone=True).area == pytest.approx(expected_area, rel=1e-6)
    assert territory.organisation.name == "Mairie de Paris Centre"
    assert territory.organisation.kind == Organisation.Kind.COMMUNE
    assert "Organisation créée : Mairie de Paris Centre" in out
    area_km2 = float(re.search(r"Superficie : ([\d.,]+) km²", out).group(1).replace(",", "."))
    assert area_km2 == pytest.approx(2.0, rel=0.01)  # the factory's metres are approximate


def test_territory_update_by_slug_and_dry_run(tmp_path: Path):
    # given an existing territory
    paris = OrganisationFactory(name="Ville de Paris")
    TerritoryFactory(name="Paris", slug="paris", organisation=paris, geom=square(0, 0, 10, 10))
    path = write_geojson(tmp_path / "contour.geojson", [feature(1, square(0, 0, 2000, 2000))])

    # when a dry run, then a real run, import a new outline for the same slug
    simulated = territory_import(
        path=path, name="Paris", slug="paris", organisation="Ville de Paris", dry_run=True
    )
    assert_same_geometry(Territory.objects.get(slug="paris").geom, square(0, 0, 10, 10))
    report = territory_import(path=path, name="Paris", slug="paris", organisation="Ville de Paris")

    # then only the real run changed the outline, in place
    assert simulated.dry_run and (simulated.created, simulated.updated) == (0, 1)
    assert (report.created, report.updated) == (0, 1)
    assert Territory.objects.count() == 1
    assert_same_geometry(Territory.objects.get(slug="paris").geom, square(0, 0, 2000, 2000))


def test_territory_refuses_bad_kind_and_slug(tmp_path: Path):
    # given a valid outline
    path = write_geojson(tmp_path / "contour.geojson", [feature(1, square(0, 0, 100, 100))])

    # when the organisation kind or slug is wrong, then nothing is created
    with pytest.raises(ImportFileError, match="Type d'organisation « mairie » inconnu"):
        territory_import(path=path, name="X", slug="x", organisation="X", organisation_kind="mairie")
    with pytest.raises(ImportFileError, match="Identifiant « pas bon » invalide"):
        territory_import(path=path, name="X", slug="pas bon", organisation="X")
    assert not Organisation.objects.exists()
    assert not Territory.objects.exists()


def test_id_field_keys_zones_so_a_deleted_row_does_not_shift_them(tmp_path: Path, organisation: Organisation):
    # given a Shapefile keyed by code_insee-like ids, imported once
    first = write_geojson(
        tmp_path / "secteurs.geojson",
        [
            feature(1, NORD, nom="Nord", service="Voirie", code="N"),
            feature(2, SUD, nom="Sud", service="Propreté", code="S"),
            feature(3, EST, nom="Est", service="Voirie", code="E"),
        ],
    )
    import_reference(first, id_field="code")
    ids_before = {z.source_id: z.pk for z in Zone.objects.filter(source="secteurs:secteurs")}
    assert sorted(ids_before) == ["E", "N", "S"]

    # when the first row is removed from the file (every later row gets a new FID) and it is re-imported
    second = write_geojson(
        tmp_path / "secteurs.geojson",
        [
            feature(1, SUD, nom="Sud", service="Propreté", code="S"),
            feature(2, EST, nom="Est", service="Voirie", code="E"),
        ],
    )
    report = import_reference(second, id_field="code", replace=True)

    # then each zone keeps its row and geometry, and only "Nord" goes
    zones = {z.source_id: z for z in Zone.objects.filter(source="secteurs:secteurs")}
    assert (report.created, report.updated, report.deleted) == (0, 2, 1)
    assert {key: zone.pk for key, zone in zones.items()} == {"S": ids_before["S"], "E": ids_before["E"]}
    assert_same_geometry(zones["S"].geom, SUD)


def test_repeated_or_empty_ids_refuse_the_file(tmp_path: Path, organisation: Organisation):
    path = write_geojson(
        tmp_path / "doublons.geojson",
        [
            feature(1, NORD, nom="Nord", service="Voirie", code="X"),
            feature(2, SUD, nom="Sud", service="Voirie", code="X"),
            feature(3, EST, nom="Est", service="Voirie", code=None),
        ],
    )
    with pytest.raises(CommandError) as err:
        run("import_zones", path, name_field="nom", service_field="service", id_field="code")
    message = str(err.value)
    assert "identifiant « X » déjà utilisé par l'entité 1" in message
    assert "entité 3 : identifiant vide" in message
    assert Zone.objects.count() == 0
