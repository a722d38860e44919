"""Published (quantised) data versions: ``TILES_VERSION_MIN_INTERVAL``.

Time is moved by ageing the layer's publication in the database (``published_at`` is the database's
clock, compared with ``clock_timestamp()``), plus one real two-second wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from django.db import connections as django_connections
from django.test.utils import CaptureQueriesContext

from tests.tiles.conftest import features, file_report, inside
from tiles import versioning
from tiles.tilemath import Tile

pytestmark = pytest.mark.django_db

INTERVAL = 30


def url(tile: Tile) -> str:
    return f"/tiles/reports/{tile.z}/{tile.x}/{tile.y}.mvt"


def references(body: bytes) -> set[str]:
    return {f["properties"]["reference"] for f in features(body, "reports")}


def max_age(response) -> int:  # type: ignore[no-untyped-def]
    directives = dict(
        part.strip().split("=", 1) for part in response["Cache-Control"].split(",") if "=" in part
    )
    return int(directives["max-age"])


def age(seconds: float, layer: str = "reports") -> None:
    """Pretend the last publication of ``layer`` happened ``seconds`` earlier."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {versioning.TABLE} SET published_at = published_at - make_interval(secs => %s) "
            "WHERE layer = %s",
            [seconds, layer],
        )


def published(layer: str = "reports") -> tuple[int, str]:
    """The published version and time (as text: ``-infinity`` has no Python datetime)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT published_version, published_at::text FROM {versioning.TABLE} WHERE layer = %s", [layer]
        )
        row = cursor.fetchone()
    return int(row[0]), str(row[1])


def unpublish(layer: str = "reports") -> None:
    """Back to the migration's state: never published (committed state survives transactional tests)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {versioning.TABLE} SET published_version = 0, published_at = '-infinity' WHERE layer = %s",
            [layer],
        )


@pytest.fixture
def quantised(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The reports layer published at most every 30 s, starting from a layer never published."""
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": INTERVAL}
    settings.TILES_MAX_AGE = 60
    unpublish()
    yield


def test_a_report_within_the_interval_keeps_the_etag(world, client, center_tile, quantised, tile_cache):
    first = file_report(*inside(center_tile, 0.3, 0.3))
    before = client.get(url(center_tile))
    assert before.status_code == 200 and references(before.content) == {first.reference}
    # when a report is filed a few seconds later
    age(5)
    second = file_report(*inside(center_tile, 0.7, 0.7))
    within = client.get(url(center_tile))
    # then the published version has not moved: same ETag, the cached bytes, a 304 for the old tag
    assert within["ETag"] == before["ETag"] and within["X-Tiles-Cache"] == "hit"
    assert references(within.content) == {first.reference}
    revalidated = client.get(url(center_tile), headers={"If-None-Match": before["ETag"]})
    assert revalidated.status_code == 304
    # and HTTP caches are told to keep it only until the version may move (25 s left of 30)
    assert 24 <= max_age(within) <= 25 and max_age(revalidated) <= 25
    # once the interval is over, the next request publishes: a new ETag, the new report is drawn
    age(INTERVAL)
    after = client.get(url(center_tile))
    assert after["ETag"] != before["ETag"] and after["X-Tiles-Cache"] == "miss"
    assert references(after.content) == {first.reference, second.reference}
    assert client.get(url(center_tile), headers={"If-None-Match": before["ETag"]}).status_code == 200
    assert max_age(after) == INTERVAL


def test_without_a_redis_cache_the_bytes_are_never_older_than_the_etag(world, client, center_tile, quantised):
    first = file_report(*inside(center_tile, 0.3, 0.3))
    before = client.get(url(center_tile))
    second = file_report(*inside(center_tile, 0.7, 0.7))
    within = client.get(url(center_tile))
    # rendered again under the same published version, the tile reads live data: newer, never older
    assert within["ETag"] == before["ETag"] and within["X-Tiles-Cache"] == "off"
    assert references(within.content) == {first.reference, second.reference}


def test_first_change_after_a_quiet_spell_is_published_at_once(world, client, center_tile, quantised):
    file_report(*inside(center_tile, 0.3, 0.3))
    quiet = client.get(url(center_tile))
    age(3600)  # an hour without a change
    # nothing changed: the same version, no publication, HTTP caches keep the tile a whole interval
    again = client.get(url(center_tile))
    assert again["ETag"] == quiet["ETag"] and max_age(again) == INTERVAL
    # the first report after the quiet spell is published by the very next request
    late = file_report(*inside(center_tile, 0.6, 0.6))
    fresh = client.get(url(center_tile))
    assert fresh["ETag"] != quiet["ETag"] and late.reference in references(fresh.content)


def test_max_age_never_exceeds_tiles_max_age(world, client, center_tile, quantised, settings):
    settings.TILES_MAX_AGE = 10
    file_report(*inside(center_tile, 0.5, 0.5))
    assert max_age(client.get(url(center_tile))) == 10
    # other layers keep TILES_MAX_AGE
    assert max_age(client.get("/tiles/zones/16/0/0.mvt")) == 10


def test_short_interval_with_a_real_wait(world, client, center_tile, settings):
    # 2 s rather than 1: a loaded machine must not spend the whole interval between two requests
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": 2}
    unpublish()
    file_report(*inside(center_tile, 0.3, 0.3))
    before = client.get(url(center_tile))
    second = file_report(*inside(center_tile, 0.7, 0.7))
    assert client.get(url(center_tile))["ETag"] == before["ETag"]
    time.sleep(2.1)
    after = client.get(url(center_tile))
    assert after["ETag"] != before["ETag"] and second.reference in references(after.content)


def test_interval_zero_is_the_raw_counter_with_no_write(world, client, center_tile, settings):
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": 0}
    unpublish()
    file_report(*inside(center_tile, 0.3, 0.3))
    before = client.get(url(center_tile))
    assert max_age(before) == 60
    second = file_report(*inside(center_tile, 0.7, 0.7))
    with CaptureQueriesContext(connection) as captured:
        after = client.get(url(center_tile))
    # every write is a new ETag at once, and the version is one plain read
    assert after["ETag"] != before["ETag"] and second.reference in references(after.content)
    version_reads = [q["sql"] for q in captured.captured_queries if versioning.TABLE in q["sql"]]
    assert len(version_reads) == 1 and "UPDATE" not in version_reads[0]
    assert published() == (0, "-infinity")


def test_published_version_is_a_snapshot_of_the_raw_counter(db, quantised):
    raw = versioning.data_version("reports")
    first = versioning.current_version("reports", INTERVAL)
    assert first.number == raw and 29 < (first.stable_for or 0) <= INTERVAL
    # a write moves the raw counter, not the published version, until the interval is over
    with connection.cursor() as cursor:
        cursor.execute("UPDATE signalements_support SET fingerprint = fingerprint")
    assert versioning.data_version("reports") == raw + 1
    assert versioning.current_version("reports", INTERVAL).number == raw
    age(INTERVAL)
    assert versioning.current_version("reports", INTERVAL).number == raw + 1


def test_a_layer_without_its_row_gets_one(db):
    version = versioning.current_version("essai-sans-migration", 10)
    assert version.number == 1 and 9 < (version.stable_for or 0) <= 10
    assert versioning.current_version("essai-sans-migration", 10) == versioning.Version(
        1, pytest.approx(10, abs=1)
    )


# --- Several processes ---------------------------------------------------------------------------


def other_connection() -> psycopg.Connection:
    settings_dict = connection.settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    )


def write(other: psycopg.Connection) -> None:
    """A committed write of the reports layer from another backend (statement triggers fire on 0 rows)."""
    other.execute("UPDATE signalements_support SET fingerprint = fingerprint")


def race(workers: int) -> list[int]:
    """``workers`` threads (one database connection each, like gunicorn workers) ask at once."""
    barrier = threading.Barrier(workers)
    answers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            number = versioning.current_version("reports", INTERVAL).number
            with lock:
                answers.append(number)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_agree_and_publish_once(settings):
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": INTERVAL}
    unpublish()
    other = other_connection()
    try:
        for _ in range(5):
            # given a committed write and a publication due, 8 workers asking at the same moment
            write(other)
            age(INTERVAL)
            answers = race(8)
            raw = versioning.data_version("reports")
            # then one publication happened and every worker got it (none the superseded one)
            assert answers == [raw] * 8
            assert published()[0] == raw
        at = published()[1]
        # a further write from another backend is not published within the interval, by anyone
        write(other)
        assert versioning.current_version("reports", INTERVAL).number == raw
        row = other.execute(
            "SELECT published_version, published_at::text FROM tiles_dataversion WHERE layer = 'reports'"
        ).fetchone()
        assert row == (raw, at)
        # once due, whichever process asks first publishes, and the other reads the same version
        age(INTERVAL)
        mine = versioning.current_version("reports", INTERVAL).number
        theirs = other.execute(
            "SELECT published_version FROM tiles_dataversion WHERE layer = 'reports'"
        ).fetchone()
        assert mine == theirs[0] == raw + 1
    finally:
        other.close()
        unpublish()


@pytest.mark.django_db(transaction=True)
def test_a_write_in_flight_during_a_publication_is_published_at_the_next_step(settings):
    settings.TILES_VERSION_MIN_INTERVAL = {"reports": INTERVAL}
    unpublish()
    other = other_connection()
    try:
        # given a transaction writing reports, not committed yet, when the version is published
        other.autocommit = False
        write(other)
        during = versioning.current_version("reports", INTERVAL).number
        # then the publication does not count it (its snapshot cannot see it)...
        other.commit()
        assert versioning.data_version("reports") == during + 1
        assert versioning.current_version("reports", INTERVAL).number == during
        # ...and a render under ``during`` reads it anyway (newer than the tag, never older); the
        # next step counts it, so it is never lost behind a version that claims to include it
        age(INTERVAL)
        assert versioning.current_version("reports", INTERVAL).number == during + 1
    finally:
        other.close()
        unpublish()
