"""Data versions of the vector layers, kept by the database itself.

``tiles_dataversion(layer, version, changed_at)`` holds the counters of each layer. Statement-level
triggers on each table a layer reads (``VectorLayer.sources``) bump one, in the same transaction as
the write: the new version becomes visible exactly when the new data does, so a tile computed
after reading version *v* is never older than *v* and a cache key carrying *v* never holds stale
bytes. The domain apps know nothing of it (they do not import ``tiles``).

A statement that changes no row still bumps the version: a wasted cache entry, never a stale one.

The counter of a layer is split over ``SHARDS`` rows (``reports``, ``reports:0`` … ``reports:15``),
a writer bumping the row of its connection (``pg_backend_pid() % SHARDS``), and the version is
their sum. One row per layer would serialise every transaction that writes a report on that row's
lock, held until commit: measured here with 8 concurrent writers, 159 transactions/s instead of
798 without triggers; sharded, 670/s. The sum still grows with every commit that wrote, and is
read in one snapshot.

Published versions (``TILES_VERSION_MIN_INTERVAL``). A layer written all the time, like
``reports`` under steady filing, gets a new version with nearly every request: every ETag, Redis
key and nginx entry of the layer is dropped by the next report, and its caches stop hitting
(measured by ``bench/tiles.py --quantisation``: one report every 2 s, 156 tiles around the centre
asked 40 times a second, the Redis cache of the ``reports`` tiles hit 20.6 % of the time, 33 renders
a second; published at most every 30 s, 88.8 % and 4.7 renders a second). Such a layer serves a
*published* version instead, advanced at most once every ``min_interval`` seconds:

* the published version is a snapshot of the raw counter (the sum above) taken by the very
  statement that publishes it; a tile rendered after reading published version *P* reads live
  data, in a later snapshot on the same database, hence at least as new as *P*: a key carrying *P*
  never holds data older than *P* (it may hold newer data, which costs nothing: that data is
  published, and the key changes, at the next step);
* publication is one conditional ``UPDATE`` of the layer's base row (``reports``, the row the
  shard counters are summed with, which writers never touch, so tile readers never wait on
  writers): it moves only when the raw counter is ahead *and* the last publication is at least
  ``min_interval`` old. Two workers racing at the boundary: the second waits for the first's row
  lock, PostgreSQL re-checks its ``WHERE`` against the new row (``published_at`` is now recent) and
  it publishes nothing, then asks again to read the winner's version; every process, replica or
  thread reads the same row, so all agree (the read path takes no lock: the ``UPDATE`` matches no
  row, hence locks none, except once per interval);
* nothing is lost: after a quiet spell the first change is published by the next request; under
  steady writes, a change committed at *t* is published by the first request after
  ``published_at + min_interval`` <= *t* + ``min_interval``;
* ``published_version < raw`` in the ``WHERE`` keeps the published version monotonic, whatever
  the order in which statements with older snapshots reach the row;
* times are the database's ``clock_timestamp()``: no clock skew between web hosts, and it moves
  inside a transaction (``now()`` does not);
* the version statement and the render must reach the same database (the primary: the version
  statement may write), in READ COMMITTED (Django's default), each in its own snapshot.

An interval of 0 (the default) serves the raw counter, exactly as before: no write on the read path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection

TABLE = "tiles_dataversion"
FUNCTION = "tiles_bump_version"
SHARDS = 16

CREATE_SQL = f"""
CREATE TABLE {TABLE} (
    layer text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} AS v (layer, version, changed_at)
    VALUES (TG_ARGV[0] || ':' || (pg_backend_pid() % {SHARDS}), 1, now())
    ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END
$$;
"""
DROP_SQL = f"DROP FUNCTION IF EXISTS {FUNCTION}() CASCADE; DROP TABLE IF EXISTS {TABLE};"

# The published version and its time live on the layer's base row (``reports``; shard rows keep
# the defaults). ``-infinity``: the first request of a layer publishes at once.
PUBLISHED_SQL = f"""
ALTER TABLE {TABLE}
    ADD COLUMN published_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN published_at timestamptz NOT NULL DEFAULT '-infinity';
"""
UNPUBLISHED_SQL = f"ALTER TABLE {TABLE} DROP COLUMN published_at, DROP COLUMN published_version;"

# One round trip: publish when due, else read the published row. Second column, ``stable_for``:
# how long the answer cannot move (<= 0: it may move at the next request, after a quiet spell).
# Third column, ``lost``: publication was due in this statement's snapshot yet the UPDATE changed
# nothing, i.e. another worker published meanwhile (its row lock made us wait, then PostgreSQL
# re-checked our WHERE against its row). The SELECT branch still reads our older snapshot, the
# superseded version: the caller asks again, in a new snapshot that sees the winner's version.
_CURRENT_SQL = f"""
WITH raw AS (
    SELECT coalesce(sum(version), 0) AS v FROM {TABLE} WHERE layer = ANY(%(rows)s)
), published AS (
    UPDATE {TABLE} AS d SET published_version = raw.v, published_at = clock_timestamp()
    FROM raw
    WHERE d.layer = %(layer)s AND d.published_version < raw.v
      AND d.published_at <= clock_timestamp() - make_interval(secs => %(interval)s)
    RETURNING d.published_version, d.published_at
)
SELECT published_version, extract(epoch FROM published_at - clock_timestamp()) + %(interval)s, false
FROM published
UNION ALL
SELECT d.published_version,
       CASE WHEN d.published_at = '-infinity' THEN -1
            ELSE extract(epoch FROM d.published_at - clock_timestamp()) + %(interval)s END,
       d.published_version < raw.v
           AND d.published_at <= clock_timestamp() - make_interval(secs => %(interval)s)
FROM {TABLE} AS d, raw
WHERE d.layer = %(layer)s AND NOT EXISTS (SELECT FROM published)
"""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Version:
    """A layer's version as served: ``number`` goes into ETags and cache keys.

    ``stable_for``: seconds during which ``number`` cannot change (the published version of a
    quantised layer before its next step); ``None`` when any write changes it at once (raw counter).
    """

    number: int
    stable_for: float | None = None


def trigger_name(layer: str) -> str:
    return f"tiles_version_{layer.replace('-', '_')}"


def triggers_sql(layer: str, tables: tuple[str, ...]) -> str:
    """Triggers that bump ``layer``'s version after any write to ``tables`` (for migrations)."""
    name = trigger_name(layer)
    return "\n".join(
        [f"INSERT INTO {TABLE} (layer) VALUES ('{layer}') ON CONFLICT DO NOTHING;"]
        + [
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}('{layer}');"
            for table in tables
        ]
    )


def drop_triggers_sql(layer: str, tables: tuple[str, ...]) -> str:
    name = trigger_name(layer)
    return "\n".join(
        [f"DROP TRIGGER IF EXISTS {name} ON {table};" for table in tables]
        + [f"DELETE FROM {TABLE} WHERE layer = '{layer}' OR layer LIKE '{layer}:%';"]
    )


def _rows(layer: str) -> list[str]:
    return [layer, *(f"{layer}:{shard}" for shard in range(SHARDS))]


def data_version(layer: str) -> int:
    """The layer's current version (0 for a layer no trigger has bumped yet): one indexed read."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(version), 0) FROM {TABLE} WHERE layer = ANY(%s)", [_rows(layer)])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def current_version(layer: str, min_interval: float) -> Version:
    """The version tiles of ``layer`` are served under: the raw counter, or with ``min_interval`` > 0
    the published one (publishing it first when due). One statement; see the module docstring."""
    if min_interval <= 0:
        return Version(data_version(layer))
    params: dict[str, Any] = {"rows": _rows(layer), "layer": layer, "interval": float(min_interval)}
    with connection.cursor() as cursor:
        cursor.execute(_CURRENT_SQL, params)
        row = cursor.fetchone()
        if row is None:
            # A layer declared without its migration (no base row yet): create it, then publish.
            # The base row's initial 1 adds to the raw sum: one more version, never a stale one.
            logger.info("tile layer %s had no version row; created", layer)
            cursor.execute(f"INSERT INTO {TABLE} (layer) VALUES (%s) ON CONFLICT DO NOTHING", [layer])
            cursor.execute(_CURRENT_SQL, params)
            row = cursor.fetchone()
        if row is not None and row[2]:
            # Lost the race to publish: once more, in a snapshot that sees the winner's version.
            cursor.execute(_CURRENT_SQL, params)
            row = cursor.fetchone()
    if row is None:  # pragma: no cover - the row was just created
        return Version(data_version(layer))
    return Version(int(row[0]), float(row[1]))


def triggered_tables(layer: str) -> set[str]:
    """Tables that carry ``layer``'s version trigger (tests compare them with the declaration)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal",
            [trigger_name(layer)],
        )
        return {row[0] for row in cursor.fetchall()}
