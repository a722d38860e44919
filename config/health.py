"""`/healthz`: whether this process can reach what it needs to accept a report.

Load balancers and Kubernetes probes read the status code; people read the JSON. A report is only
accepted once it is durable in the database and its notifications can be queued, so both the
database (with PostGIS) and the Celery broker are checked, each with a short timeout.
"""

import time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

CHECK_TIMEOUT_S = 2.0


def _check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        # SET LOCAL lasts one transaction: without atomic() it would be a no-op in autocommit.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [int(CHECK_TIMEOUT_S * 1000)])
            cursor.execute("SELECT postgis_lib_version()")
            (postgis,) = cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the message tells which
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    return {"ok": True, "postgis": postgis, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_broker() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503
    )
