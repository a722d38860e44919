"""Vector tiles decoded and asserted: fields, privacy, filters, clusters, budget, freshness, errors."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from signalements.models import Support, Ticket, TicketState
from signalements.services import ContactInput
from tests.factories import NetworkFeatureFactory, NetworkLayerFactory, line
from tests.signalements.world import at
from tests.tiles.conftest import bulk_reports, decode, features, file_report, inside
from tiles import layers, versioning
from tiles.layers import TILE_BUDGET_BYTES
from tiles.tilemath import Tile, tile_for_lonlat

pytestmark = pytest.mark.django_db

PUBLIC_FIELDS = {f.name for f in layers.REPORTS.fields}


def url(layer: str, tile: Tile, query: str = "") -> str:
    return f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt{query}"


def tiles_covering(west: float, south: float, east: float, north: float, z: int) -> list[Tile]:
    nw, se = tile_for_lonlat(west, north, z), tile_for_lonlat(east, south, z)
    return [Tile(z, x, y) for x in range(nw.x, se.x + 1) for y in range(nw.y, se.y + 1)]


def test_reports_tile_holds_public_fields_of_each_report(world, client, center_tile):
    # given three reports in the middle tile, one of them supported twice
    reports = [file_report(*inside(center_tile, f, f)) for f in (0.2, 0.5, 0.8)]
    Support.objects.create(report=reports[0], fingerprint="a")
    Support.objects.create(report=reports[0], fingerprint="b")
    # when the z16 tile is fetched
    response = client.get(url("reports", center_tile))
    # then it is an MVT with one feature per report and only public fields
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    found = {f["properties"]["reference"]: f for f in features(response.content, "reports")}
    assert set(found) == {r.reference for r in reports}
    first = found[reports[0].reference]
    assert first["geometry"]["type"] == "Point"
    assert set(first["properties"]) <= PUBLIC_FIELDS
    assert first["properties"]["category"] == "nid-de-poule"
    assert first["properties"]["category_parent"] == "voirie"
    assert first["properties"]["status"] == TicketState.NOUVEAU
    assert first["properties"]["created_at"] == timezone.localdate().isoformat()
    assert first["properties"]["support_count"] == 2
    assert found[reports[1].reference]["properties"]["support_count"] == 0


def test_no_personal_data_in_tiles(world, client, center_tile):
    # given reports whose reporters left a name, an e-mail and a phone number
    contact = ContactInput(name="Jeanne Martin", email="jeanne.martin@example.org", phone="+33 6 12 34 56 78")
    for f in (0.3, 0.6):
        file_report(*inside(center_tile, f, 0.5), contact=contact)
    # when tiles are fetched at every kind of zoom (features and clusters)
    bodies = [client.get(url("reports", t)).content for t in (center_tile, tile_for_lonlat(*at(), 12))]
    # then none of it appears anywhere, neither in the bytes nor in the decoded properties
    for body in bodies:
        assert body
        for secret in (b"Jeanne", b"Martin", b"jeanne.martin", b"example.org", b"612345678", b"0612"):
            assert secret not in body
        for feature in features(body, "reports"):
            assert set(feature["properties"]) <= PUBLIC_FIELDS | {"count"}


def test_filters_by_category_status_and_dates(world, client, center_tile):
    # given a pothole filed in January, a street lamp in March (resolved since) and a pothole today
    january = file_report(
        *inside(center_tile, 0.2, 0.2), created_at=timezone.make_aware(datetime(2026, 1, 10, 23, 30))
    )
    march = file_report(
        *inside(center_tile, 0.5, 0.5),
        category="lampadaire",
        created_at=timezone.make_aware(datetime(2026, 3, 1, 0, 15)),
    )
    today = file_report(*inside(center_tile, 0.8, 0.8))
    Ticket.objects.filter(report=march).update(state=TicketState.RESOLU)

    def refs(query: str) -> set[str]:
        response = client.get(url("reports", center_tile, query))
        assert response.status_code in (200, 204), response.content
        return {f["properties"]["reference"] for f in features(response.content, "reports")}

    # then each filter keeps what it says (a parent category includes its children; dates are whole days)
    assert refs("") == {january.reference, march.reference, today.reference}
    assert refs("?category=voirie") == {january.reference, today.reference}
    assert refs("?category=lampadaire,nid-de-poule") == {january.reference, march.reference, today.reference}
    assert refs("?status=resolu") == {march.reference}
    assert refs("?status=nouveau,pris_en_compte") == {january.reference, today.reference}
    assert refs("?created_before=2026-01-10") == {january.reference}
    assert refs("?created_after=2026-01-11&created_before=2026-03-01") == {march.reference}
    assert refs("?created_after=2026-03-02") == {today.reference}
    assert refs("?category=voirie&status=resolu") == set()
    # and filters are part of the ETag
    etags = {
        client.get(url("reports", center_tile, q))["ETag"] for q in ("", "?status=resolu", "?category=voirie")
    }
    assert len(etags) == 3


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?category=inconnue", "categorie_inconnue"),
        ("?category=voirie,piscine", "categorie_inconnue"),
        ("?status=ferme", "etat_inconnu"),
        ("?created_after=2026-13-01", "date_invalide"),
        ("?created_before=hier", "date_invalide"),
        ("?created_before=9999-12-31", "date_invalide"),
        ("?created_after=0001-01-01", "date_invalide"),
        ("?status=,", "filtre_invalide"),
    ],
)
def test_bad_filter_values_are_400_in_french(world, client, center_tile, query, code):
    response = client.get(url("reports", center_tile, query))
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/tiles/reports/23/0/0.mvt", 400, "tuile_hors_limites"),
        ("/tiles/reports/3/8/0.mvt", 400, "tuile_hors_limites"),
        ("/tiles/reports/3/0/8.mvt", 400, "tuile_hors_limites"),
        ("/tiles/reports/3/-1/0.mvt", 404, "url_inconnue"),
        ("/tiles/parkings/3/0/0.mvt", 404, "couche_inconnue"),
        ("/tiles/parkings.json", 404, "couche_inconnue"),
        ("/tiles/network/5/16/11.mvt", 404, "zoom_hors_couche"),
        ("/tiles/reports/3/0/0.png", 404, "url_inconnue"),
    ],
)
def test_bad_tile_addresses(db, client, path, status, code):
    response = client.get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["message"]


def test_only_get_and_head(db, client):
    assert client.post("/tiles/reports/0/0/0.mvt").status_code == 405
    assert client.head("/tiles/reports/0/0/0.mvt").status_code in (200, 204)


def test_clusters_at_low_zoom_add_up_to_every_point(world, client):
    # given 2,000 reports spread over 3 km x 3 km of the town
    west, south = at(-1500, -1500)
    east, north = at(1500, 1500)
    bulk_reports(2000, west, south, east, north, category_id=world.nid.pk, service_id=world.west.pk)
    for z in (10, 13, 14):
        # when every tile of the area is fetched at a clustered zoom
        counts = []
        for tile in tiles_covering(west, south, east, north, z):
            found = features(client.get(url("reports", tile)).content, "reports")
            assert all(set(f["properties"]) == {"count"} for f in found)
            counts += [f["properties"]["count"] for f in found]
        # then the cells' counts add up to the number of points, each counted once
        assert sum(counts) == 2000, z
        assert len(counts) < 2000
    # and from zoom 15 on, reports are features again
    raw = features(client.get(url("reports", tile_for_lonlat(*at(), 15))).content, "reports")
    assert raw and all("reference" in f["properties"] for f in raw)


def test_budget_z8_over_paris_and_capped_z16(world, client, center_tile):
    # given 5,000 reports over Paris and 6,000 more inside a single z16 tile
    bulk_reports(5000, 2.25, 48.815, 2.42, 48.90, category_id=world.nid.pk, service_id=world.west.pk)
    (w, n), (e, s) = inside(center_tile, 0.01, 0.01), inside(center_tile, 0.99, 0.99)
    bulk_reports(6000, w, s, e, n, category_id=world.nid.pk, service_id=world.west.pk, prefix="DENSE")
    # when the z8 tile over Paris is fetched, it aggregates every point and stays within the budget
    z8 = client.get(url("reports", tile_for_lonlat(2.35, 48.86, 8)))
    assert len(z8.content) <= TILE_BUDGET_BYTES
    assert sum(f["properties"]["count"] for f in features(z8.content, "reports")) == 11000
    # and the dense z16 tile is capped at the layer's feature cap, within the budget too
    z16 = client.get(url("reports", center_tile))
    assert len(z16.content) <= TILE_BUDGET_BYTES
    assert len(features(z16.content, "reports")) == layers.REPORTS.feature_cap


def test_new_report_changes_etag_and_appears_at_once(world, client, center_tile):
    first = file_report(*inside(center_tile, 0.3, 0.3))
    before = client.get(url("reports", center_tile))
    # when a report is filed
    second = file_report(*inside(center_tile, 0.7, 0.7))
    after = client.get(url("reports", center_tile))
    # then the next request has a new ETag and the new feature
    assert after["ETag"] != before["ETag"]
    assert {f["properties"]["reference"] for f in features(after.content, "reports")} == {
        first.reference,
        second.reference,
    }
    # and a state change or a support changes it again
    Ticket.objects.filter(report=first).update(state=TicketState.EN_COURS)
    moved = client.get(url("reports", center_tile))
    assert moved["ETag"] != after["ETag"]
    Support.objects.create(report=first, fingerprint="x")
    assert client.get(url("reports", center_tile))["ETag"] != moved["ETag"]


def test_304_on_if_none_match_and_caching_headers(world, client, center_tile):
    file_report(*inside(center_tile, 0.5, 0.5))
    response = client.get(url("reports", center_tile))
    tag = response["ETag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    assert response["Cache-Control"] == "public, max-age=60, stale-while-revalidate=300"
    # the same ETag → 304 without a body, with the same headers
    again = client.get(url("reports", center_tile), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == tag and again["Cache-Control"] == response["Cache-Control"]
    assert (
        client.get(url("reports", center_tile), headers={"If-None-Match": f'"x", {tag}'}).status_code == 304
    )
    # an old ETag → 200
    assert client.get(url("reports", center_tile), headers={"If-None-Match": '"old"'}).status_code == 200


def test_empty_tile_is_204_with_caching_headers(world, client):
    response = client.get("/tiles/reports/16/0/0.mvt")
    assert response.status_code == 204 and response.content == b""
    assert response["ETag"] and response["Cache-Control"].startswith("public")


def test_redis_cache_hits_and_follows_the_data_version(world, client, center_tile, tile_cache):
    file_report(*inside(center_tile, 0.5, 0.5))
    miss = client.get(url("reports", center_tile))
    hit = client.get(url("reports", center_tile))
    assert (miss["X-Tiles-Cache"], hit["X-Tiles-Cache"]) == ("miss", "hit")
    assert hit.content == miss.content and hit["ETag"] == miss["ETag"]
    assert tile_cache.exists(f"tiles:{miss['ETag'].strip(chr(34))}")
    # a new report: a new version, so a new key; the new feature is there at once
    file_report(*inside(center_tile, 0.2, 0.2))
    fresh = client.get(url("reports", center_tile))
    assert fresh["X-Tiles-Cache"] == "miss"
    assert len(features(fresh.content, "reports")) == 2


def test_unreachable_redis_never_fails_a_tile(world, client, center_tile, settings):
    from tiles import cache

    settings.TILES_CACHE_URL = "redis://127.0.0.1:1/0"
    cache._down_until = 0.0
    try:
        file_report(*inside(center_tile, 0.5, 0.5))
        response = client.get(url("reports", center_tile))
        assert response.status_code == 200 and response["X-Tiles-Cache"] == "off"
    finally:
        cache._down_until = 0.0


def test_queries_per_tile(world, client, center_tile, tile_cache):
    file_report(*inside(center_tile, 0.5, 0.5))

    def statements(**headers: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            client.get(url("reports", center_tile), headers=headers)
        return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]

    cold = statements()
    assert len(cold) == 2  # the data version, then the one ST_AsMVT statement
    assert "tiles_dataversion" in cold[0] and cold[1].count("ST_AsMVT(") == 1
    assert len(statements()) == 1  # cached: the data version only
    tag = client.get(url("reports", center_tile))["ETag"]
    assert len(statements(If_None_Match=tag)) == 1


def test_slow_tile_is_cancelled_and_answered_503(world, client, center_tile, settings, monkeypatch):
    from tiles import vector

    settings.TILES_STATEMENT_TIMEOUT_MS = 50
    monkeypatch.setattr(vector, "tile_statement", lambda *a: ("SELECT ''::bytea FROM pg_sleep(2)", {}))
    response = client.get(url("reports", center_tile))
    assert response.status_code == 503
    assert response.json()["code"] == "tuile_trop_longue"
    assert response["Retry-After"] == "5" and response["Cache-Control"] == "no-store"
    # and the connection is still usable (the cancellation was contained)
    monkeypatch.undo()
    assert client.get(url("reports", center_tile)).status_code in (200, 204)


def test_zones_layer_carries_services_for_the_coverage_map(world, client):
    tile = tile_for_lonlat(*at(), 14)
    found = features(client.get(url("zones", tile)).content, "zones")
    by_name = {f["properties"]["name"]: f["properties"] for f in found}
    assert by_name["Secteur Ouest"]["service"] == "Voirie Ouest"
    assert by_name["Secteur Ouest"]["service_id"] == world.west.pk
    assert by_name["Secteur Est"]["service"] == "Voirie Est"
    assert by_name["Secteur Est"]["categories"] == "voirie"
    assert {f["geometry"]["type"] for f in found} <= {"Polygon", "MultiPolygon"}
    # renaming a service is a new version of the zones layer
    before = client.get(url("zones", tile))["ETag"]
    world.west.name = "Voirie Ouest (régie)"
    world.west.save()
    after = client.get(url("zones", tile))
    assert after["ETag"] != before
    assert "Voirie Ouest (régie)" in {f["properties"]["service"] for f in features(after.content, "zones")}


def test_territories_and_network_layers(world, client):
    network = NetworkLayerFactory(name="Voies rapides")
    NetworkFeatureFactory(layer=network, name="Quai", service=world.east, geom=line((-500, 10), (500, 10)))
    tile = tile_for_lonlat(*at(), 14)
    territory = features(client.get(url("territories", tile)).content, "territories")
    assert [f["properties"]["slug"] for f in territory] == ["test"]
    roads = features(client.get(url("network", tile)).content, "network")
    assert [
        (f["properties"]["name"], f["properties"]["layer"], f["properties"]["service"]) for f in roads
    ] == [("Quai", "Voies rapides", "Voirie Est")]
    assert roads[0]["geometry"]["type"] == "LineString"


def test_every_declared_source_table_has_its_version_trigger(db):
    for layer in layers.all_layers():
        assert versioning.triggered_tables(layer.name) == set(layer.sources), layer.name


def test_gdal_reads_a_fetched_tile(world, client, center_tile, tmp_path):
    for f in (0.25, 0.5, 0.75):
        file_report(*inside(center_tile, f, 0.5))
    body = client.get(url("reports", center_tile)).content
    path = tmp_path / str(center_tile.z) / str(center_tile.x) / f"{center_tile.y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(body)
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", f"MVT:{path}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "Layer name: reports" in out
    assert "Feature Count: 3" in out
    assert decode(body)["reports"]["extent"] == 4096


def test_a_new_layer_is_one_declaration(world, client):
    # given a layer declared the way the urbanisme app will declare project perimeters
    layer = layers.register(
        layers.VectorLayer(
            name="perimetres-test",
            title="Périmètres",
            source="geo_territory p",
            geom="p.geom",
            fields=(layers.Field("nom", "p.name", "String", "nom du périmètre"),),
            sources=("geo_territory",),
            simplify_px=1.0,
        )
    )
    try:
        tile = tile_for_lonlat(*at(), 13)
        # then it has tiles and a TileJSON document, with nothing else to write
        found = features(client.get(url("perimetres-test", tile)).content, "perimetres-test")
        assert [f["properties"] for f in found] == [{"nom": "Test"}]
        doc = client.get("/tiles/perimetres-test.json").json()
        assert doc["vector_layers"][0]["fields"] == {"nom": "String : nom du périmètre"}
    finally:
        layers.unregister(layer.name)


@pytest.mark.django_db(transaction=True)
def test_writes_of_other_connections_add_up_once_committed():
    # given another connection (another backend, so another counter row of the layer)
    import psycopg

    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
    )
    try:
        before = versioning.data_version("territories")
        other.execute("UPDATE geo_territory SET name = name")
        # then its write is invisible until it commits, then counted
        assert versioning.data_version("territories") == before
        other.commit()
        assert versioning.data_version("territories") == before + 1
        connection.cursor().execute("UPDATE geo_territory SET name = name")
        assert versioning.data_version("territories") == before + 2
    finally:
        other.close()
