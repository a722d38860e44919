"""The router's precedence, explanations, ambiguity and errors, on real PostGIS."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.gis.geos import Point

from geo.errors import NoServiceForCategory, NotCovered, UnknownCategory
from geo.models import DefaultService
from geo.routing import Rule, route
from geo.srid import LAMBERT93_SRID, STORAGE_SRID
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
def world():
    """A 4 km square territory around the Hôtel de Ville and a two-level category tree."""
    territory = TerritoryFactory(name="Paris Centre", slug="paris-centre")
    voirie = CategoryFactory(code="voirie", name="Voirie")
    nid = CategoryFactory(code="nid-de-poule", name="Nid de poule", parent=voirie)
    eclairage = CategoryFactory(code="eclairage", name="Éclairage")
    return territory, voirie, nid, eclairage


def at(east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    return offset(PARIS_LON, PARIS_LAT, east_m, north_m)


def test_zone_for_the_category_receives_the_point_and_says_why(world):
    # given a zone competent for "Nid de poule" around the point
    _territory, _voirie, nid, _ = world
    zone = ZoneFactory(
        name="4e arrondissement", service__name="Voirie – secteur Centre", categories=[nid], priority=20
    )
    # when the point is routed
    decision = route(at(), "nid-de-poule")
    # then the zone's service receives it, and the explanation names the zone, competence and priority
    assert decision.service_id == zone.service_id
    assert decision.rule is Rule.ZONE
    assert decision.matched.object_id == zone.pk
    assert decision.explanation == (
        "Transmis à Voirie – secteur Centre : le point est dans la zone « 4e arrondissement », "
        "compétente pour « Nid de poule » (priorité 20)."
    )
    assert decision.ambiguous is False
    assert decision.territories == ["Paris Centre"]


def test_competence_on_a_parent_category_covers_its_children(world):
    _territory, voirie, _nid, _ = world
    zone = ZoneFactory(categories=[voirie])
    decision = route(at(), "nid-de-poule")
    assert decision.service_id == zone.service_id
    assert "« Voirie » (dont « Nid de poule »)" in decision.explanation


def test_zone_of_other_categories_does_not_match(world):
    _territory, _voirie, nid, eclairage = world
    ZoneFactory(categories=[eclairage])
    with pytest.raises(NoServiceForCategory) as err:
        route(at(), nid)
    assert err.value.code == "aucun_service_competent"
    assert "Nid de poule" in err.value.message


def test_higher_priority_wins_and_the_loser_is_listed_with_the_reason(world):
    _territory, _voirie, nid, _ = world
    low = ZoneFactory(name="Arrondissement", categories=[nid], priority=10, geom=square(-300, -300, 300, 300))
    high = ZoneFactory(name="Parc", categories=[nid], priority=50, geom=square(-1000, -1000, 1000, 1000))
    decision = route(at(), nid)
    assert decision.service_id == high.service_id
    assert [(loser.object_id, loser.reason) for loser in decision.losers] == [
        (low.pk, "priorité 10 inférieure à 50")
    ]


def test_at_equal_priority_the_smallest_zone_wins(world):
    _territory, _voirie, nid, _ = world
    big = ZoneFactory(name="Grande", categories=[nid], priority=10, geom=square(-1000, -1000, 1000, 1000))
    small = ZoneFactory(name="Petite", categories=[nid], priority=10, geom=square(-200, -200, 200, 200))
    decision = route(at(), nid)
    assert decision.matched.object_id == small.pk
    assert decision.losers[0].object_id == big.pk
    # areas are geodesic hectares, written the French way
    assert re.fullmatch(
        r"même priorité, zone plus grande \((399|400),\d ha contre 1[56],\d ha\)", decision.losers[0].reason
    )


def test_a_network_feature_within_tolerance_beats_every_zone(world):
    # given a departmental road 6 m north of the point, tolerance 10 m, and a high-priority zone
    _territory, voirie, nid, _ = world
    zone = ZoneFactory(categories=[voirie], priority=100)
    layer = NetworkLayerFactory(name="Routes départementales", categories=[voirie], default_tolerance_m=10)
    road = NetworkFeatureFactory(
        layer=layer, name="RD 910", service__name="Département – routes", geom=line((-500, 6), (500, 6))
    )
    decision = route(at(), nid)
    assert decision.service_id == road.service_id
    assert decision.rule is Rule.NETWORK
    assert decision.matched.distance_m == pytest.approx(6.0, abs=0.2)
    assert "tronçon « RD 910 »" in decision.explanation
    assert "tolérance 10 m" in decision.explanation
    assert decision.losers[0].object_id == zone.pk
    assert "prime sur les zones" in decision.losers[0].reason


def test_a_network_feature_beyond_its_tolerance_leaves_the_point_to_the_zone(world):
    _territory, voirie, nid, _ = world
    zone = ZoneFactory(categories=[voirie])
    layer = NetworkLayerFactory(categories=[voirie], default_tolerance_m=10)
    NetworkFeatureFactory(layer=layer, geom=line((-500, 60), (500, 60)))
    decision = route(at(), nid)
    assert decision.service_id == zone.service_id
    assert decision.ambiguous is False


def test_feature_tolerance_overrides_the_layer_default(world):
    _territory, voirie, nid, _ = world
    ZoneFactory(categories=[voirie])
    layer = NetworkLayerFactory(categories=[voirie], default_tolerance_m=5)
    road = NetworkFeatureFactory(layer=layer, tolerance_m=40, geom=line((-500, 30), (500, 30)))
    assert route(at(), nid).service_id == road.service_id


def test_the_nearest_network_feature_wins(world):
    _territory, voirie, nid, _ = world
    layer = NetworkLayerFactory(categories=[voirie], default_tolerance_m=20)
    near = NetworkFeatureFactory(layer=layer, geom=line((-500, 3), (500, 3)))
    far = NetworkFeatureFactory(layer=layer, geom=line((-500, -9), (500, -9)))
    decision = route(at(), nid)
    assert decision.matched.object_id == near.pk
    assert decision.losers[0].object_id == far.pk
    assert decision.losers[0].reason.startswith("tronçon plus éloigné")


def test_a_network_layer_tied_to_other_categories_is_ignored(world):
    _territory, voirie, nid, eclairage = world
    zone = ZoneFactory(categories=[voirie])
    layer = NetworkLayerFactory(categories=[eclairage], default_tolerance_m=20)
    NetworkFeatureFactory(layer=layer, geom=line((-500, 1), (500, 1)))
    assert route(at(), nid).service_id == zone.service_id


def test_the_default_service_applies_where_no_zone_does(world):
    territory, voirie, _nid, eclairage = world
    lighting = ServiceFactory(name="Éclairage public")
    DefaultService.objects.create(territory=territory, category=eclairage, service=lighting)
    ZoneFactory(categories=[voirie])  # competent for another category only
    decision = route(at(), eclairage)
    assert decision.service_id == lighting.pk
    assert decision.rule is Rule.DEFAULT
    assert decision.explanation == (
        "Transmis à Éclairage public : aucune zone particulière ne couvre ce point ; c'est le service par "
        "défaut du territoire « Paris Centre » pour « Éclairage »."
    )


def test_a_zone_beats_the_default_service(world):
    territory, voirie, nid, _ = world
    DefaultService.objects.create(territory=territory, category=voirie, service=ServiceFactory())
    zone = ZoneFactory(categories=[nid])
    decision = route(at(), nid)
    assert decision.service_id == zone.service_id
    assert decision.losers[0].rule is Rule.DEFAULT
    assert "en l'absence de zone compétente" in decision.losers[0].reason


def test_default_for_the_category_beats_default_for_the_parent_beats_default_for_all(world):
    territory, voirie, nid, _ = world
    for_all = DefaultService.objects.create(territory=territory, category=None, service=ServiceFactory())
    assert route(at(), nid).service_id == for_all.service_id
    assert "pour toutes les catégories" in route(at(), nid).explanation
    for_parent = DefaultService.objects.create(territory=territory, category=voirie, service=ServiceFactory())
    assert route(at(), nid).service_id == for_parent.service_id
    for_leaf = DefaultService.objects.create(territory=territory, category=nid, service=ServiceFactory())
    decision = route(at(), nid)
    assert decision.service_id == for_leaf.service_id
    assert [loser.service_id for loser in decision.losers] == [for_parent.service_id, for_all.service_id]


def test_outside_every_territory_is_not_covered(world):
    _territory, _voirie, nid, _ = world
    ZoneFactory(categories=[nid], geom=square(5000, 5000, 6000, 6000))  # a zone outside the territory
    with pytest.raises(NotCovered) as err:
        route(at(5500, 5500), nid)
    assert err.value.code == "hors_territoire"
    assert "hors du territoire couvert" in err.value.message


def test_unknown_or_inactive_category_is_refused(world):
    _territory, _voirie, nid, _ = world
    with pytest.raises(UnknownCategory):
        route(at(), "n-existe-pas")
    nid.is_active = False
    nid.save()
    with pytest.raises(UnknownCategory):
        route(at(), "nid-de-poule")


def test_near_the_boundary_with_another_service_the_decision_is_ambiguous(world):
    # given two adjacent zones of two services, the boundary on the meridian of the reference point
    _territory, voirie, nid, _ = world
    west = ZoneFactory(
        name="Ouest", service__name="Voirie Ouest", categories=[voirie], geom=square(-1000, -1000, 0, 1000)
    )
    east = ZoneFactory(
        name="Est", service__name="Voirie Est", categories=[voirie], geom=square(0, -1000, 1000, 1000)
    )
    # when a point 5 m west of the boundary is routed
    decision = route(at(-5, 0), nid)
    # then the west service takes it, flagged ambiguous with the east service as alternative
    assert decision.service_id == west.service_id
    assert decision.ambiguous is True
    assert [a.service_id for a in decision.alternatives] == [east.service_id]
    assert decision.alternatives[0].distance_m == pytest.approx(5.0, abs=0.3)
    assert "merci de confirmer" in decision.explanation
    assert "Voirie Est" in decision.explanation
    # and 40 m from the boundary it is not
    assert route(at(-40, 0), nid).ambiguous is False
    # and the distance is a setting
    assert route(at(-40, 0), nid, ambiguity_m=50).ambiguous is True


def test_a_boundary_between_zones_of_the_same_service_is_not_ambiguous(world):
    _territory, voirie, nid, _ = world
    service = ServiceFactory()
    ZoneFactory(service=service, categories=[voirie], geom=square(-1000, -1000, 0, 1000))
    ZoneFactory(service=service, categories=[voirie], geom=square(0, -1000, 1000, 1000))
    assert route(at(-5, 0), nid).ambiguous is False


def test_near_the_edge_of_a_winning_zone_inside_a_larger_one_is_ambiguous(world):
    # a park (priority 50) inside an arrondissement (priority 10): 5 m inside the park's edge
    _territory, voirie, nid, _ = world
    arrondissement = ZoneFactory(service__name="Voirie", categories=[voirie], priority=10)
    park = ZoneFactory(
        service__name="Parcs", categories=[voirie], priority=50, geom=square(0, -100, 100, 100)
    )
    decision = route(at(5, 0), nid)
    assert decision.service_id == park.service_id
    assert decision.ambiguous is True
    assert decision.alternatives[0].service_id == arrondissement.service_id
    assert "du bord de la zone" in decision.alternatives[0].reason
    assert route(at(50, 0), nid).ambiguous is False


def test_near_the_tolerance_limit_of_a_network_feature_is_ambiguous(world):
    _territory, voirie, nid, _ = world
    zone = ZoneFactory(categories=[voirie])
    layer = NetworkLayerFactory(categories=[voirie], default_tolerance_m=10)
    road = NetworkFeatureFactory(layer=layer, geom=line((-500, 18), (500, 18)))
    decision = route(at(), nid)  # 18 m from the road: beyond tolerance, within tolerance + 15 m
    assert decision.service_id == zone.service_id
    assert decision.ambiguous is True
    assert decision.alternatives[0].service_id == road.service_id


def test_zone_validity_dates_are_respected(world):
    _territory, _voirie, nid, _ = world
    today = date(2026, 6, 1)
    ZoneFactory(categories=[nid], priority=90, valid_until=today - timedelta(days=1))
    current = ZoneFactory(categories=[nid], priority=10)
    future = ZoneFactory(categories=[nid], priority=50, valid_from=today + timedelta(days=10))
    assert route(at(), nid, on=today).service_id == current.service_id
    assert route(at(), nid, on=today + timedelta(days=10)).service_id == future.service_id


def test_an_inactive_service_receives_nothing(world):
    _territory, _voirie, nid, _ = world
    ZoneFactory(categories=[nid], priority=90, service__is_active=False)
    active = ZoneFactory(categories=[nid], priority=10)
    assert route(at(), nid).service_id == active.service_id


def test_a_zone_for_all_categories_matches_any_category(world):
    _territory, _voirie, nid, eclairage = world
    zone = ZoneFactory(all_categories=True)
    assert route(at(), nid).service_id == zone.service_id
    decision = route(at(), eclairage)
    assert decision.service_id == zone.service_id
    assert "compétente pour toutes les catégories" in decision.explanation


def test_a_point_given_in_lambert93_is_routed_like_its_wgs84_twin(world):
    _territory, voirie, nid, _ = world
    west = ZoneFactory(categories=[voirie], geom=square(-1000, -1000, 0, 1000))
    east = ZoneFactory(categories=[voirie], geom=square(0, -1000, 1000, 1000))
    for east_m, expected in ((-30, west), (30, east)):
        wgs84 = Point(*at(east_m, 0), srid=STORAGE_SRID)
        lambert = wgs84.transform(LAMBERT93_SRID, clone=True)
        assert 600_000 < lambert.x < 700_000  # really Lambert-93 metres
        assert route(lambert, nid).service_id == route(wgs84, nid).service_id == expected.service_id


def test_a_decision_costs_one_routing_query(world, django_assert_num_queries):
    _territory, voirie, nid, _ = world
    ZoneFactory(categories=[voirie])
    with django_assert_num_queries(1):
        route(at(), nid)  # the category object is given: only the routing statement runs
    with django_assert_num_queries(2):
        route(at(), "nid-de-poule")  # plus the category lookup


def test_decision_as_dict_is_json_ready(world):
    import json

    _territory, _voirie, nid, _ = world
    ZoneFactory(categories=[nid])
    data = route(at(), nid).as_dict()
    assert json.loads(json.dumps(data))["rule"] == "zone"
    assert data["matched"]["rule"] == "zone"
    assert data["category_code"] == "nid-de-poule"


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), "abc", None, [1, 2]])
def test_absurd_coordinates_are_refused_with_a_clear_error(value):
    from geo.srid import InvalidGeometry, point_from_lonlat

    with pytest.raises(InvalidGeometry):
        point_from_lonlat(value, 48.85)
    with pytest.raises(InvalidGeometry):
        point_from_lonlat(2.35, value)
