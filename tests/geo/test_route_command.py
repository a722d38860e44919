"""`manage.py route` (one point, a CSV batch) and `manage.py coverage`."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from geo.models import DefaultService
from tests.factories import (
    PARIS_LAT,
    PARIS_LON,
    CategoryFactory,
    NetworkFeatureFactory,
    NetworkLayerFactory,
    ServiceFactory,
    TerritoryFactory,
    ZoneFactory,
    line,
    offset,
    square,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    territory = TerritoryFactory(name="Ville", slug="ville", geom=square(-1000, -1000, 1000, 1000))
    voirie = CategoryFactory(code="voirie", name="Voirie")
    nid = CategoryFactory(code="nid-de-poule", name="Nid de poule", parent=voirie)
    eclairage = CategoryFactory(code="eclairage", name="Éclairage")
    west = ZoneFactory(
        name="Ouest", service__name="Voirie Ouest", categories=[voirie], geom=square(-1000, -1000, 0, 1000)
    )
    return territory, voirie, nid, eclairage, west


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_route_prints_the_service_and_why(setup):
    lon, lat = offset(PARIS_LON, PARIS_LAT, -500, 0)
    out, _ = run("route", "--lon", str(lon), "--lat", str(lat), "--category", "nid-de-poule")
    assert "Service : Voirie Ouest" in out
    assert "Règle : zone (Ouest)" in out
    assert "le point est dans la zone « Ouest »" in out


def test_route_json_is_the_decision(setup):
    *_, west = setup
    lon, lat = offset(PARIS_LON, PARIS_LAT, -500, 0)
    out, _ = run("route", "--lon", str(lon), "--lat", str(lat), "--category", "nid-de-poule", "--json")
    data = json.loads(out)
    assert data["service_id"] == west.service_id
    assert data["rule"] == "zone"
    assert data["ambiguous"] is False


def test_route_not_covered_exits_3(setup):
    with pytest.raises(CommandError) as err:
        run("route", "--lon", "5.0", "--lat", "45.0", "--category", "nid-de-poule")
    assert err.value.returncode == 3
    assert "hors du territoire couvert" in str(err.value)


def test_route_no_service_exits_4_and_bad_input_exits_2(setup):
    lon, lat = offset(PARIS_LON, PARIS_LAT, 500, 0)  # east half: no zone there
    with pytest.raises(CommandError) as err:
        run("route", "--lon", str(lon), "--lat", str(lat), "--category", "nid-de-poule")
    assert err.value.returncode == 4
    with pytest.raises(CommandError) as err:
        run("route", "--lon", "500", "--lat", "48", "--category", "nid-de-poule")
    assert err.value.returncode == 2
    assert "Longitude hors limites" in str(err.value)
    with pytest.raises(CommandError) as err:
        run("route", "--lon", str(lon), "--lat", str(lat), "--category", "inconnue")
    assert err.value.returncode == 2


def test_route_batch_writes_one_json_decision_per_row(setup, tmp_path):
    # given a CSV of four rows: routed, out of territory, unknown category, bad coordinates
    lon, lat = offset(PARIS_LON, PARIS_LAT, -500, 0)
    rows = [
        "lon,lat,category",
        f"{lon},{lat},nid-de-poule",
        "5.0,45.0,nid-de-poule",
        f"{lon},{lat},nope",
        "abc,1,voirie",
    ]
    src = tmp_path / "reports.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    dest = tmp_path / "decisions.jsonl"
    # when it is routed
    _, err = run("route", "--input", str(src), "--output", str(dest))
    # then each row has its decision or its error, in order, and a summary is printed
    lines = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    assert [line["line"] for line in lines] == [2, 3, 4, 5]
    assert lines[0]["decision"]["service_name"] == "Voirie Ouest"
    assert [line.get("error") for line in lines[1:]] == [
        "hors_territoire",
        "categorie_inconnue",
        "geometrie_invalide",
    ]
    assert "4 lignes, 1 routées, 0 ambiguës." in err
    assert "Voirie Ouest : 1" in err


def test_route_batch_refuses_a_csv_without_the_columns(setup, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("x,y\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError) as err:
        run("route", "--input", str(src))
    assert "Colonnes manquantes" in str(err.value)


def test_coverage_lists_the_gap_of_a_category_and_the_defaults(setup):
    territory, _voirie, _nid, eclairage, _west = setup
    DefaultService.objects.create(
        territory=territory, category=eclairage, service=ServiceFactory(name="Lumière")
    )
    out, _ = run("coverage")
    # the east half (1 km x 2 km = 200 ha) has no service for voirie
    assert "Voirie › Nid de poule : LACUNE de" in out
    assert "(50,00 % du territoire) en 1 partie(s)" in out
    assert "Éclairage : couvert partout (service par défaut « Lumière »)" in out


def test_coverage_json_gap_area_is_geodesic(setup):
    out, _ = run("coverage", "--category", "nid-de-poule", "--json")
    data = json.loads(out)
    [gap] = data["gaps"]
    assert gap["gap_area_m2"] == pytest.approx(2_000_000, rel=0.01)
    assert gap["gap_share"] == pytest.approx(0.5, abs=0.001)


def test_a_network_within_tolerance_counts_as_coverage(setup):
    _territory, voirie, *_ = setup
    ZoneFactory(categories=[voirie], geom=square(0, -1000, 1000, 0))  # south-east quarter
    layer = NetworkLayerFactory(categories=[voirie], default_tolerance_m=20)
    NetworkFeatureFactory(layer=layer, geom=line((0, 500), (1000, 500)))
    out, _ = run("coverage", "--category", "nid-de-poule", "--json")
    [gap] = json.loads(out)["gaps"]
    # the north-east quarter (100 ha) minus the road's 40 m wide band (4 ha)
    assert gap["gap_area_m2"] == pytest.approx(960_000, rel=0.02)
    assert len(gap["gap_parts"]) == 2


def test_coverage_reports_equal_priority_overlaps_between_services(setup):
    _territory, voirie, *_ = setup
    ZoneFactory(
        name="Est", service__name="Voirie Est", categories=[voirie], geom=square(-100, -1000, 1000, 1000)
    )
    out, _ = run("coverage", "--category", "nid-de-poule")
    # a 100 m x 2 km band: 20 ha, French decimals
    assert re.search(
        r"« Ouest » \(Voirie Ouest\) et « Est » \(Voirie Est\), priorité 0, (19,9\d|20,0\d) ha", out
    )
    with pytest.raises(CommandError) as err:
        run("coverage", "--fail-on-gaps")
    assert err.value.returncode == 1


def test_full_coverage_passes_fail_on_gaps(setup):
    _territory, voirie, _nid, _eclairage, west = setup
    ZoneFactory(service=west.service, categories=[voirie], geom=square(0, -1000, 1000, 1000))
    ZoneFactory(all_categories=True, geom=square(-1000, -1000, 1000, 1000), priority=-1)
    out, _ = run("coverage", "--fail-on-gaps")
    assert "LACUNE" not in out
    assert "Aucun chevauchement" in out
