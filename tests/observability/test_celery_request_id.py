"""The request id travels with the tasks a request publishes, and the worker restores it for their logs."""

from __future__ import annotations

from types import SimpleNamespace

from celery.signals import before_task_publish, task_postrun, task_prerun

from config import observability
from config.observability import CELERY_HEADER, NO_REQUEST, request_id_var

RID = "0123456789abcdef0123456789abcdef"


def test_the_handlers_are_connected_to_celery_signals() -> None:
    import config.celery  # noqa: F401 - connects the handlers

    assert any("celery_before_publish" in repr(r) for r in before_task_publish.receivers)
    assert any("celery_task_prerun" in repr(r) for r in task_prerun.receivers)
    assert any("celery_task_postrun" in repr(r) for r in task_postrun.receivers)


def test_publishing_inside_a_request_adds_the_header() -> None:
    headers: dict = {}
    token = request_id_var.set(RID)
    try:
        observability.celery_before_publish(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {CELERY_HEADER: RID}


def test_publishing_outside_a_request_adds_nothing() -> None:
    headers: dict = {}
    observability.celery_before_publish(headers=headers)
    assert headers == {}


def test_the_worker_restores_the_id_then_forgets_it() -> None:
    task = SimpleNamespace(request=SimpleNamespace(headers={CELERY_HEADER: RID}))
    observability.celery_task_prerun(task=task)
    assert request_id_var.get() == RID
    observability.celery_task_postrun(task=task)
    assert request_id_var.get() == NO_REQUEST


def test_a_forged_header_is_not_logged() -> None:
    task = SimpleNamespace(request=SimpleNamespace(**{CELERY_HEADER: "evil\nline"}))
    observability.celery_task_prerun(task=task)
    assert request_id_var.get() == NO_REQUEST
