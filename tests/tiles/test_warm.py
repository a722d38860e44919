"""Tile warming (``tiles.warm``) on real PostGIS and the real Redis tile cache, and its queue."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import CommandError, call_command

from config.celery import app
from tests.signalements.world import at
from tests.tiles.conftest import bulk_reports, file_report
from tiles import cache, layers, vector
from tiles.tilemath import Tile, tile_for_lonlat
from tiles.warm import tiles_covering, warm

pytestmark = pytest.mark.django_db

ZOOMS = (8, 9, 10, 11)
LAYERS = ("reports", "zones", "territories")


def url(layer: str, tile: Tile) -> str:
    return f"/tiles/{layer}/{tile.z}/{tile.x}/{tile.y}.mvt"


def territory_tiles(world, zoom: int) -> list[Tile]:  # type: ignore[no-untyped-def]
    """Computed here from the territory's outline, independently of ``tiles.warm``."""
    west, south, east, north = world.territory.geom.extent
    nw, se = tile_for_lonlat(west, north, zoom), tile_for_lonlat(east, south, zoom)
    return [Tile(zoom, x, y) for x in range(nw.x, se.x + 1) for y in range(nw.y, se.y + 1)]


def expected_count(world, layer_names=LAYERS, zooms=ZOOMS) -> int:  # type: ignore[no-untyped-def]
    return sum(
        len(territory_tiles(world, z))
        for name in layer_names
        for z in zooms
        if layers.get(name).minzoom <= z <= layers.get(name).maxzoom
    )


@pytest.fixture
def filed(world):  # type: ignore[no-untyped-def]
    """The test town with 300 published reports over its whole square."""
    west, south = at(-1900, -1900)
    east, north = at(1900, 1900)
    bulk_reports(300, west, south, east, north, category_id=world.nid.pk, service_id=world.west.pk)
    return world


def test_tiles_covering_matches_the_tile_arithmetic(world):
    box = world.territory.geom.extent
    for z in ZOOMS:
        assert tiles_covering([box], z) == sorted(territory_tiles(world, z), key=lambda t: (t.y, t.x))
    # the test town's 4 km square straddles a tile edge at z11
    assert len(territory_tiles(world, 11)) >= 1


def test_warming_renders_every_tile_once_then_finds_them_cached(filed, tile_cache, settings):
    settings.TILES_WARM_ZOOMS = list(ZOOMS)
    settings.TILES_WARM_LAYERS = list(LAYERS)
    expected = expected_count(filed)
    first = warm()
    assert first.cache_enabled
    assert (first.rendered, first.cached, first.failed, first.left) == (expected, 0, 0, 0)
    assert first.by_layer["reports"]["rendered"] == sum(len(territory_tiles(filed, z)) for z in ZOOMS)
    assert len(tile_cache.keys("tiles:*")) == expected
    # nothing changed: everything is already cached under the current versions
    second = warm()
    assert (second.rendered, second.cached, second.left) == (0, expected, 0)


def test_a_new_version_is_warmed_again_for_the_changed_layer_only(filed, tile_cache, settings):
    settings.TILES_WARM_LAYERS = list(LAYERS)
    warm(zooms=ZOOMS)
    before = vector.tile_version(layers.REPORTS).number
    # a new report: a new version of the reports layer (zones and territories unchanged)
    file_report(*at(100, 100))
    assert vector.tile_version(layers.REPORTS).number > before
    again = warm(zooms=ZOOMS)
    reports_tiles = sum(len(territory_tiles(filed, z)) for z in ZOOMS)
    assert again.by_layer["reports"] == {"rendered": reports_tiles, "cached": 0, "failed": 0, "left": 0}
    assert again.rendered == reports_tiles
    assert again.cached == expected_count(filed) - reports_tiles


def test_the_cap_is_honoured_and_the_next_run_goes_on(filed, tile_cache):
    expected = expected_count(filed)
    assert expected > 4
    first = warm(zooms=ZOOMS, layer_names=LAYERS, max_tiles=3)
    assert (first.rendered, first.cached, first.left) == (3, 0, expected - 3)
    assert len(tile_cache.keys("tiles:*")) == 3
    second = warm(zooms=ZOOMS, layer_names=LAYERS, max_tiles=3)
    assert (second.rendered, second.cached, second.left) == (3, 3, expected - 6)
    # the lowest zooms come first
    assert warm(zooms=(8,), layer_names=("reports",), max_tiles=0).cached == len(territory_tiles(filed, 8))


def test_the_time_budget_stops_rendering(filed, tile_cache):
    report = warm(zooms=ZOOMS, layer_names=LAYERS, seconds=0)
    assert (report.rendered, report.left) == (0, expected_count(filed))


@pytest.mark.parametrize("interval", [0, 30], ids=["raw", "quantised"])
def test_a_warmed_tile_is_a_redis_hit_for_the_next_request(filed, client, tile_cache, settings, interval):
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": interval} if interval else {}
    warm(zooms=ZOOMS, layer_names=("reports",))
    for z in ZOOMS:
        tile = tile_for_lonlat(*at(0, 0), z)
        response = client.get(url("reports", tile))
        assert response.status_code == 200 and response["X-Tiles-Cache"] == "hit", z
        # the warmed bytes are what a request would have rendered (clusters counting every report)
        assert response.content == vector.tile_mvt(layers.REPORTS, tile, {})
    # a filtered request is another tile: not warmed
    filtered = client.get(url("reports", tile_for_lonlat(*at(0, 0), 11)) + "?status=nouveau")
    assert filtered["X-Tiles-Cache"] == "miss"


def test_warming_counts_no_visitor_lookup(filed, tile_cache):
    seen: list[bool] = []
    cache.lookup_observers.append(seen.append)
    try:
        warm(zooms=ZOOMS, layer_names=LAYERS)
        warm(zooms=ZOOMS, layer_names=LAYERS)
    finally:
        cache.lookup_observers.remove(seen.append)
    assert seen == []


def test_without_a_tile_cache_nothing_is_rendered(filed, settings):
    settings.TILES_CACHE_URL = None
    report = warm(zooms=ZOOMS)
    assert not report.cache_enabled and report.planned == 0


def test_the_command_warms_and_reports_in_french(filed, tile_cache):
    out = io.StringIO()
    call_command("warm_tiles", "--zoom", "8", "--zoom", "9", "--layer", "reports", stdout=out)
    rendered = len(territory_tiles(filed, 8)) + len(territory_tiles(filed, 9))
    assert f"{rendered} calculée(s), 0 déjà en cache" in out.getvalue()
    out = io.StringIO()
    call_command("warm_tiles", "--zoom", "8", "--zoom", "9", "--layer", "reports", stdout=out)
    assert f"0 calculée(s), {rendered} déjà en cache" in out.getvalue()
    with pytest.raises(CommandError, match="Couche inconnue"):
        call_command("warm_tiles", "--layer", "nulle-part")
    with pytest.raises(CommandError, match="hors limites"):
        call_command("warm_tiles", "--zoom", "23")


def test_the_command_refuses_without_a_cache(filed, settings):
    settings.TILES_CACHE_URL = None
    with pytest.raises(CommandError, match="Aucun cache de tuiles"):
        call_command("warm_tiles", stdout=io.StringIO())


def test_imports_and_tiles_go_to_their_own_queue(settings):
    for task in ("urbanisme.raster_to_cog", "urbanisme.rasters_sweep", "tiles.warm"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": "imports_tiles"}
        assert app.amqp.router.route({}, task)["queue"].name == "imports_tiles"
    # photos stay on media, which the imports no longer delay
    assert app.amqp.router.route({}, "signalements.photo_process")["queue"].name == "media"
    entry = settings.CELERY_BEAT_SCHEDULE["tiles-warm"]
    assert entry["task"] == "tiles.warm"
    # a late warm expires before the next one is due
    assert entry["options"]["expires"] < entry["schedule"]
    # every scheduled task exists and lands on a queue the workers (the test worker too) consume
    from tests.worker import QUEUES

    app.loader.import_default_modules()
    for name, scheduled in settings.CELERY_BEAT_SCHEDULE.items():
        assert scheduled["task"] in app.tasks, name
        assert app.amqp.router.route({}, scheduled["task"])["queue"].name in QUEUES, name


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_shared_worker_runs_the_warm_task_from_its_queue(celery_worker):
    # The shared worker has no tile cache configured (its environment): the run is a no-op that
    # says so, which shows the task is registered, routed to imports_tiles and consumed there.
    result = app.send_task("tiles.warm")
    assert result.id
    deadline = time.monotonic() + 20
    log = ""
    while time.monotonic() < deadline:
        log = celery_worker.log_path.read_text(errors="replace")
        if f"tiles.warm[{result.id}] succeeded" in log:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"tiles.warm did not run on the worker\n{celery_worker.log()}")
    line = next(x for x in log.splitlines() if f"tiles.warm[{result.id}] succeeded" in x)
    assert "'cache_enabled': False" in line
