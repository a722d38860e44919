"""Scenario 1: 50 concurrent citizens file reports for RESILIENCE_LOAD_SECONDS (60) seconds."""

from __future__ import annotations

import pytest

from signalements.models import Report

from .harness import LOAD_CLIENTS, LOAD_SECONDS, file_reports, record

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_acknowledged_report_is_stored_and_nothing_answers_5xx(web, spot):
    # when 50 clients file reports as fast as they are answered
    load = file_reports(web, clients=LOAD_CLIENTS, seconds=LOAD_SECONDS, lonlat=spot, category="nid-de-poule")
    figures = {"clients": LOAD_CLIENTS, **load.figures()}
    record("1_load", figures)
    # then there was no server error and no refused connection
    assert figures["5xx"] == 0, figures
    assert figures["connection_errors"] == 0, figures
    assert load.acknowledged, figures
    # and every acknowledged reference is in the database, once
    assert len(set(load.acknowledged)) == len(load.acknowledged)
    stored = set(Report.objects.filter(reference__in=load.acknowledged).values_list("reference", flat=True))
    assert stored == set(load.acknowledged)
    assert Report.objects.count() == len(load.acknowledged)
