"""The Paris demo territory, built through the import code, and real DansMaRue reports routed on it."""

import csv
from collections import Counter

import pytest
from django.db import connection

from geo.demo import ROAD_SECTORS, arrondissement_name, demo_load
from geo.models import DefaultService, Service, Territory, Zone
from geo.routing import route
from geo.srid import sql_area_m2
from signalements.demo import DEMO_CSV

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris():
    return demo_load()


def test_demo_builds_paris_and_a_second_run_changes_nothing(paris):
    assert paris == {
        "organisations": 1,
        "categories": 15,
        "services": 9,
        "territories": 1,
        "zones": 22,
        "default services": 3,
    }
    zones_before = {z.pk: (z.name, z.service_id, z.geom.wkb.hex()) for z in Zone.objects.all()}
    again = demo_load()
    assert set(again.values()) == {0}
    assert {z.pk: (z.name, z.service_id, z.geom.wkb.hex()) for z in Zone.objects.all()} == zones_before
    assert Service.objects.count() == 9
    assert DefaultService.objects.count() == 3


def test_paris_outline_is_the_union_of_the_arrondissements(paris):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql_area_m2('geom')} FROM geo_territory WHERE slug = 'paris'")
        (area,) = cursor.fetchone()
    assert 104e6 < area < 106e6  # 105.4 km², the bois included
    assert Territory.objects.get().geom.num_geom == 1


def test_known_places_route_to_the_expected_services(paris):
    # a pavement in the 17e, in the Bois de Boulogne and in the Bois de Vincennes; a street light anywhere
    assert route((2.2875, 48.8872), "voirie-trottoir").service_name == "Voirie – secteur Nord-Ouest"
    assert route((2.2875, 48.8872), "voirie-trottoir").matched.name == arrondissement_name(17)
    for lon, lat in ((2.2621, 48.8624), (2.4136, 48.8297), (2.4245, 48.8415)):
        decision = route((lon, lat), "voirie-trottoir")
        assert decision.service_name == "Parcs et jardins (DEVE)"
        assert decision.losers[0].reason.startswith("priorité 10 inférieure à 50")
    lamp = route((2.35, 48.86), "eclairage-lampadaire")
    assert (lamp.service_name, lamp.rule) == ("Éclairage public", "defaut")


def test_the_796_real_reports_route_like_the_city_did(paris):
    """About 99 % fall in the arrondissement of their row; parks reports go to the parks service."""
    sector_of = {n: name for name, numbers in ROAD_SECTORS.items() for n in numbers}
    with DEMO_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 796
    outcomes: Counter[str] = Counter()
    for row in rows:
        decision = route((float(row["longitude"]), float(row["latitude"])), "voirie-trottoir")
        if row["intervenant"] == "DEVE":
            outcomes[
                "deve ok" if decision.service_name == "Parcs et jardins (DEVE)" else "deve elsewhere"
            ] += 1
        elif decision.service_name == sector_of[int(row["arrondissement"])]:
            outcomes["dvd ok"] += 1
        elif decision.service_name == "Parcs et jardins (DEVE)":
            outcomes["dvd in a park"] += 1
        else:
            outcomes["dvd other sector"] += 1
            assert decision.ambiguous or decision.matched.name != arrondissement_name(
                int(row["arrondissement"])
            )
    dvd = sum(v for k, v in outcomes.items() if k.startswith("dvd"))
    assert outcomes["dvd ok"] / dvd > 0.97, outcomes
    assert outcomes["deve ok"] >= 10, outcomes  # 14 DEVE reports; a few lie outside our rough park outlines
