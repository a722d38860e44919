"""Request ids, structured logs and optional Sentry: what an operator needs to follow one request.

nginx gives every request an id (``$request_id``, sent as ``X-Request-ID``, also in its access log
and gunicorn's). :class:`RequestIdMiddleware` keeps that id, or makes one when the request did not
come through nginx, and publishes it three ways: ``request.request_id``, a context variable read by
:class:`RequestIdFilter` (so every log line of the request carries it, whichever logger wrote it),
and the response header, so that a citizen's or a partner's bug report can quote it.

Nothing here reads the environment: ``config/settings`` calls :func:`logging_config` and
:func:`init_sentry` with values it has read and validated.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
# nginx's $request_id is 32 hex digits; other proxies send UUIDs or similar tokens. Anything else
# (too long, spaces, control characters: log injection) is replaced by a fresh id.
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
NO_REQUEST = "-"

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def current_request_id() -> str:
    """The id of the request being served by this thread, or ``"-"`` outside a request."""
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str | None:
    """The incoming id if it is safe to log and echo, else ``None``."""
    if value and _VALID_ID.match(value):
        return value
    return None


class RequestIdMiddleware:
    """Put first in ``MIDDLEWARE`` so that every later middleware's log lines carry the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.META.get(_META_KEY)) or new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            _tag_sentry(request_id)
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _tag_sentry(request_id: str) -> None:
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover - sentry-sdk is optional
        return
    if sentry_sdk.is_initialized():
        sentry_sdk.set_tag("request_id", request_id)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``"-"`` outside a request). Attach it to handlers, not loggers:
    a logger's filters do not see records propagated from its children."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


JSON_FIELDS = ["asctime", "levelname", "name", "message", "request_id"]
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(level: str = "INFO", json: bool = False) -> dict[str, Any]:
    """The ``LOGGING`` dict: one console handler (stdout/stderr is collected by journald or the
    container runtime), every record stamped with the request id.

    With ``json=True``, one JSON object per line: ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, plus ``exc_info`` (the formatted traceback) when there is one, and any
    ``extra=`` fields the caller passed.
    """
    level = level.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"unknown log level: {level}")
    formatter: dict[str, Any]
    if json:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": JSON_RENAMES,
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
        "formatters": {"concerto": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "concerto",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own request logger repeats what gunicorn's access log already says at INFO.
            "django.server": {"level": "WARNING"},
        },
    }


# Sentry: errors only, no personal data. A report's body holds the citizen's e-mail, name and
# phone; cookies hold the staff session. Neither ever leaves the server.
_SENSITIVE_HEADERS = {"cookie", "authorization", "x-api-key", "proxy-authorization", "x-forwarded-for"}


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send``: drops request bodies, cookies, query strings, credentials and user ids."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        request.pop("query_string", None)
        request.pop("env", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() not in _SENSITIVE_HEADERS}
    event.pop("user", None)
    return event


def init_sentry(
    dsn: str | None,
    environment: str,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
) -> bool:
    """Starts the Sentry SDK when a DSN is given; returns whether it did. Without a DSN, nothing
    is imported or sent."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]  # sentry types Event as a TypedDict
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True


# --- Celery: the request id follows the work into the worker --------------------------------------
# A task published while serving a request carries its id in a message header; the worker puts it
# back in ``request_id_var`` for the task's duration, so the worker's log lines (delivery of the
# e-mails a report caused, a raster conversion) share the id of the request that caused them.
CELERY_HEADER = "concerto_request_id"


def celery_before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != NO_REQUEST and CELERY_HEADER not in headers:
        headers[CELERY_HEADER] = request_id


def celery_task_prerun(task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    value = getattr(request, CELERY_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(CELERY_HEADER)
    request_id_var.set(clean_request_id(value) or NO_REQUEST)


def celery_task_postrun(**_: Any) -> None:
    request_id_var.set(NO_REQUEST)
