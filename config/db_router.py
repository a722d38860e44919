"""Where queries go when a read replica is configured (``DATABASE_REPLICA_URL``).

The replica is a streaming standby: it lags the primary by a few hundred milliseconds, seconds
under load, more while replay is paused. So it is *opted into*, never chosen globally: only the
public reads whose staleness nobody can notice ask for it, through :func:`replica_alias`
(``qs.using(replica_alias())``):

* the public listing of reports (``signalements.selectors.reports_public_listing``), the home
  page's list (``web.selectors.reports_for_home``) and the OGC API report items
  (``opendata.collections``) — a report filed a second ago may be missing for a second.

Everything else stays on the primary, on purpose: a citizen who has just filed reads their own
report's page and tracking link (read-your-write: a stale standby would answer 404), agents'
queues and workflow transitions read what they are about to change, and tiles keep their
data-version ETag and their content in the same database (a tile computed on a stale standby
under the primary's newer version would be cached as current).

:class:`PrimaryReplicaRouter` makes the explicit choice safe: writes always go to the primary,
even for an object that was read from the replica (Django would otherwise save it back to the
database it came from, a read-only standby), and nothing is migrated on the replica.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model

PRIMARY = "default"
REPLICA = "replica"


def replica_alias() -> str:
    """The alias for reads that tolerate replication lag: the replica when one is configured."""
    return REPLICA if REPLICA in settings.DATABASES else PRIMARY


class PrimaryReplicaRouter:
    """Reads stay wherever the query says (the primary unless ``.using(replica_alias())``);
    writes and migrations always go to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        # None: Django's default (the instance's own database for related objects, else default).
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Both aliases are the same data; an object read from the replica may be related to one
        # read from the primary.
        dbs = {PRIMARY, REPLICA}
        if obj1._state.db in dbs and obj2._state.db in dbs:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY
