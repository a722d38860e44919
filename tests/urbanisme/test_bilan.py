"""The bilan de la concertation: figures against known input, its method, its pages and files.

The world (``tests.opendata.urbanisme_world``) is built through the services, as people would:
online contributions, entries for a public meeting, a register and a letter, moderation, answers
and supports, on a calendar that crosses the change to summer time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from tests.opendata.urbanisme_world import (
    FREE_TEXT,
    SECRETS,
    BilanWorld,
    build_bilan_world,
    more_contributions,
)
from urbanisme import services
from urbanisme.bilan import bilan_as_dict, bilan_compute, bilan_map, participation_series
from urbanisme.bilan_urls import api_urlpatterns, page_urlpatterns
from urbanisme.models import Project, ProjectStatus

# The main URLconf mounts the bilan the same way; this module is its own URLconf so that the tests
# do not depend on it (pytest.mark.urls below).
urlpatterns = [
    path("api/urbanisme/projets/<slug:slug>/", include(api_urlpatterns)),
    path("projets/<slug:slug>/", include(page_urlpatterns)),
    path("", include("config.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urbanisme.test_bilan")]

API = "/api/urbanisme/projets/bilan-marche/"
PAGE = "/projets/bilan-marche/bilan/"


@pytest.fixture
def world() -> BilanWorld:
    return build_bilan_world()


@pytest.fixture
def published(world: BilanWorld) -> BilanWorld:
    services.bilan_publish(
        project=world.project, actor=world.c.planner, conclusion="Nous retenons les bancs et le marché."
    )
    world.project.refresh_from_db()
    return world


def tallies(rows: list[Any]) -> dict[str, int]:
    return {row.label: row.count for row in rows}


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (
            f"{secret!r} leaked: …{text[max(0, text.find(secret) - 200) : text.find(secret) + 100]}…"
        )


# --- figures ---------------------------------------------------------------------------------------


def test_totals_count_hidden_with_their_reasons_and_pending_apart(world: BilanWorld) -> None:
    bilan = bilan_compute(world.project)
    assert (bilan.totals.received, bilan.totals.published, bilan.totals.hidden, bilan.totals.pending) == (
        14,
        10,
        3,
        1,
    )
    # « Propos injurieux » and «   propos   INJURIEUX » are one reason.
    assert tallies(bilan.totals.hidden_reasons) == {"Propos injurieux": 2, "Hors sujet": 1}


def test_breakdowns_by_kind_channel_and_theme(world: BilanWorld) -> None:
    bilan = bilan_compute(world.project)
    assert tallies(bilan.by_kind) == {"Idée": 4, "Question": 2, "Inquiétude": 2, "Soutien": 1, "Autre": 1}
    channels = {row.key: row for row in bilan.by_channel}
    assert {key: row.count for key, row in channels.items()} == {
        "web": 6,
        "reunion": 2,
        "registre": 1,
        "courrier": 1,
        "atelier": 0,
        "autre": 0,
    }
    # Two spellings of the same meeting are grouped; a letter's précision is never shown.
    assert tallies(channels["reunion"].details) == {"Réunion publique du 12 mars": 2}
    assert tallies(channels["registre"].details) == {"Registre de la mairie": 1}
    assert channels["courrier"].details == [] and channels["courrier"].without_detail == 1
    assert tallies(bilan.by_theme) == {"Mobilité": 2, "Espaces verts": 1, "Commerces": 1, "Non classé": 6}
    assert sum(row.share for row in bilan.by_kind) == pytest.approx(100)


def test_by_area_counts_each_point_on_surface_in_the_zones_that_touch_the_perimeter(
    world: BilanWorld,
) -> None:
    splits = {split.label: split for split in bilan_compute(world.project).by_area}
    # Another organisation's zone, an expired zone and a far away one are not used.
    assert set(splits) == {"quartiers", "parcs"}
    quartiers = splits["quartiers"]
    assert tallies(quartiers.zones) == {"Quartier Ouest": 6, "Quartier Est": 3}
    assert quartiers.outside == 1  # c5, in the margin east of the perimeter
    assert not quartiers.overlapping
    assert tallies(splits["parcs"].zones) == {"Square des Lilas": 1}
    assert splits["parcs"].outside == 9


def test_participation_per_paris_week_and_day_across_the_change_to_summer_time(world: BilanWorld) -> None:
    weekly = bilan_compute(world.project).participation
    assert weekly.granularity == "week"  # the concertation lasts 42 days
    assert [(p.key, p.count) for p in weekly.periods] == [
        ("2026-W10", 0),
        ("2026-W11", 3),
        ("2026-W12", 2),
        ("2026-W13", 1),  # c2: Saturday 23:30 UTC, Sunday in Paris
        ("2026-W14", 3),  # c3: Sunday 22:30 UTC, Monday 00:30 in Paris (UTC+2 since that night)
        ("2026-W15", 1),
    ]
    assert weekly.periods[-1].cumulative == 10
    daily = bilan_compute(world.project, granularity="day").participation
    counts = {p.start: p.count for p in daily.periods}
    assert (
        counts[date(2026, 3, 28)] == 0 and counts[date(2026, 3, 29)] == 1 and counts[date(2026, 3, 30)] == 1
    )
    assert daily.periods[0].start == date(2026, 3, 2) and daily.periods[-1].start == date(2026, 4, 12)
    assert len(daily.periods) == 42


def test_participation_series_chooses_days_for_short_periods() -> None:
    series = participation_series([date(2026, 3, 3)], start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert series.granularity == "day" and len(series.periods) == 31
    assert participation_series([], start=None, end=None).periods == []


def test_most_supported_ties_broken_by_date_and_answers(world: BilanWorld) -> None:
    bilan = bilan_compute(world.project)
    # c1 and c2 both have 3 supports: the older first; c3 has one; no one else is listed.
    assert [r.id for r in bilan.top_supported] == [world.id("c1"), world.id("c2"), world.id("c3")]
    assert [r.supports for r in bilan.top_supported] == [3, 3, 1]
    answers = bilan.answers
    assert (answers.official_count, answers.answered_count, answers.unanswered_count) == (3, 3, 7)
    assert {a.contribution.id for a in answers.answered} == {world.id(n) for n in ("c1", "c2", "c4")}
    # c3's official answer was hidden: it is still waiting; oldest first.
    assert [r.id for r in answers.unanswered] == [
        world.id(n) for n in ("c5", "c7", "c6", "c3", "c12", "c13", "c14")
    ]
    assert tallies(answers.unanswered_by_kind) == {
        "Idée": 2,
        "Question": 1,
        "Inquiétude": 2,
        "Soutien": 1,
        "Autre": 1,
    }
    assert answers.median_days_to_answer is not None and answers.median_days_to_answer > 0


def test_contributors_are_estimated_honestly(world: BilanWorld) -> None:
    people = bilan_compute(world.project).contributors
    # One account (two contributions), two e-mails (Jeanne wrote twice), one anonymous contribution,
    # four entries by the team; seven supports from five people.
    assert (people.accounts, people.emails, people.identified) == (1, 2, 3)
    assert people.anonymous_contributions == 1 and people.on_behalf_contributions == 4
    assert (people.supports, people.supporters) == (7, 5)


def test_phase_summaries_and_the_bilan_of_one_phase(world: BilanWorld) -> None:
    bilan = bilan_compute(world.project)
    summaries = {s.kind: s for s in bilan.phases}
    concertation = summaries["concertation_prealable"]
    assert (concertation.received, concertation.published, concertation.hidden, concertation.pending) == (
        14,
        10,
        3,
        1,
    )
    assert (concertation.answered, concertation.unanswered) == (3, 7)
    assert summaries["information"].received == 0
    one = bilan_compute(world.project, phase=world.concertation)
    assert one.totals == bilan.totals and one.scope.phase_id == world.concertation.pk
    empty = bilan_compute(world.project, phase=world.info)
    assert empty.totals.received == 0 and empty.by_area[0].outside == 0
    assert empty.participation.periods[0].start == date(2026, 2, 1)


def test_the_method_says_what_is_counted_and_what_is_left_out(world: BilanWorld) -> None:
    method = {s.key: " ".join(s.paragraphs) for s in bilan_compute(world.project).method}
    assert {
        "compte",
        "canaux",
        "themes",
        "zones",
        "temps",
        "soutiens",
        "reponses",
        "participants",
        "exclu",
    } <= set(method)
    assert "10 contributions publiées" in method["compte"] and "(3)" in method["compte"]
    assert "ST_PointOnSurface" in method["zones"] and "200 m" in method["zones"]
    assert "« parcs », « quartiers »" in method["zones"]
    assert "Aucun thème n'est attribué automatiquement" in method["themes"]
    assert "pseudonymes" in method["exclu"] and "titres ni les textes" in method["exclu"]
    assert "n'est pas connu exactement" in method["participants"]
    assert "courriers" in method["canaux"]


def test_bilan_costs_a_constant_number_of_queries(world: BilanWorld) -> None:
    def project() -> Project:  # as the views load it
        return Project.objects.select_related("organisation").get(pk=world.project.pk)

    loaded = project()
    with CaptureQueriesContext(connection) as first:
        bilan_compute(loaded)
    more_contributions(world, 12)
    loaded = project()
    with CaptureQueriesContext(connection) as second:
        bilan = bilan_compute(loaded)
    assert bilan.totals.published == 22
    assert len(first) == len(second) <= 8, [q["sql"][:120] for q in second.captured_queries]
    with CaptureQueriesContext(connection) as drawing:
        drawn = bilan_map(world.project)
    assert len(drawing) == 2 and len(drawn.marks) == 22


def test_map_projects_marks_inside_the_drawing(world: BilanWorld) -> None:
    drawn = bilan_map(world.project)
    assert drawn.width == 800 and 0 < drawn.height <= 900
    assert all(0 <= m.x <= drawn.width and 0 <= m.y <= drawn.height for m in drawn.marks)
    assert {z.label for z in drawn.zones} == {"Quartier Ouest", "Quartier Est", "Square des Lilas"}
    assert drawn.perimeter.startswith("M") and drawn.perimeter.endswith("Z")
    polygon = next(m for m in drawn.marks if m.id == world.id("c3"))
    line = next(m for m in drawn.marks if m.id == world.id("c6"))
    assert polygon.closed and polygon.outline.endswith("Z") and not line.closed and line.outline
    # North up: c1 (150 m north) is drawn above c4 (50 m north).
    c1 = next(m for m in drawn.marks if m.id == world.id("c1"))
    c4 = next(m for m in drawn.marks if m.id == world.id("c4"))
    assert c1.y < c4.y and c1.x > c4.x
    assert drawn.scale_label == "100 m"


# --- who may see it --------------------------------------------------------------------------------


def test_an_unpublished_bilan_is_404_for_the_public_and_a_draft_for_the_team(
    client: Any, world: BilanWorld
) -> None:
    for url in (PAGE, f"{API}bilan/", f"{API}bilan.csv", f"{API}bilan.geojson"):
        assert client.get(url).status_code == 404, url
    client.force_login(world.c.outsider)  # staff of another organisation
    assert client.get(PAGE).status_code == 404
    assert client.get(f"{API}bilan/").json()["code"] == "introuvable"
    client.force_login(world.c.moderator)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "Brouillon" in response.content.decode()
    assert response["Cache-Control"] == "private, no-store" and response["X-Robots-Tag"] == "noindex"
    data = client.get(f"{API}bilan/").json()
    assert data["draft"] is True and data["totals"]["published"] == 10
    assert client.get(f"{API}bilan.csv").status_code == 200


def test_a_published_bilan_is_public_unless_the_project_is_a_draft(
    client: Any, published: BilanWorld
) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Brouillon" not in html and "Nous retenons les bancs et le marché." in html
    assert "Cache-Control" not in response or "no-store" not in response["Cache-Control"]
    assert client.get(f"{API}bilan/").json()["draft"] is False
    services.project_set_status(
        project=published.project, actor=published.c.planner, status=ProjectStatus.DRAFT
    )
    assert client.get(PAGE).status_code == 404
    assert client.get("/projets/nope/bilan/").status_code == 404


def test_phase_parameter_must_be_a_phase_of_the_project(client: Any, published: BilanWorld) -> None:
    assert client.get(f"{PAGE}?phase={published.concertation.pk}").status_code == 200
    for wrong in ("abc", "999999", str(published.c.concertation.pk)):  # the last: a deleted phase
        assert client.get(f"{PAGE}?phase={wrong}").status_code == 404
        assert client.get(f"{API}bilan.csv?phase={wrong}").status_code == 404
    data = client.get(f"{API}bilan/?phase={published.info.pk}").json()
    assert data["scope"]["phase_id"] == published.info.pk and data["totals"]["received"] == 0


# --- the page --------------------------------------------------------------------------------------


def test_page_is_accessible_printable_and_says_its_method(client: Any, published: BilanWorld) -> None:
    html = client.get(PAGE).content.decode()
    assert html.count("<h1") == 1 and "<h2" in html and '<main id="contenu">' in html
    # Every table has a caption and headers with a scope.
    assert html.count("<table") == html.count("<caption") >= 8
    assert 'scope="col"' in html and 'scope="row"' in html
    # Charts are images with a text alternative, bars are decoration beside the numbers.
    assert 'role="img"' in html and '<title id="map-title">' in html and '<desc id="map-desc">' in html
    assert 'class="bar"' in html and 'aria-hidden="true"' in html
    # Shapes per kind, not colour alone.
    for kind in ("idee", "question", "inquietude", "soutien", "autre"):
        assert f'id="sym-{kind}"' in html
    assert html.count('<use href="#sym-') >= 10
    assert "urbanisme/bilan.css" in html and 'style="' not in html and "<script" not in html
    assert "Méthode" in html and "ST_PointOnSurface" in html and "Aucun thème n&#x27;est attribué" in html
    assert "Licence Ouverte" in html and "Source : Ville de Test" in html
    # SVG numbers are never localised (« 12,5 » would break the drawing).
    for attribute in re.findall(r' (?:x|y|width|height)="([^"]*)"', html):
        assert "," not in attribute, attribute
    assert "Plus de bancs sous les platanes" in html  # a title the team reviewed before publishing
    assert "Réponse officielle à c1." in html
    assert "Quartier Ouest" in html and "Hors zones" in html
    assert "Réunion publique du 12 mars" in html and "Registre de la mairie" in html


def test_print_stylesheet_exists() -> None:
    from django.contrib.staticfiles import finders

    found = finders.find("urbanisme/bilan.css")
    assert found
    css = open(found, encoding="utf-8").read()  # noqa: SIM115
    assert "@media print" in css and "@page" in css and "break-inside: avoid" in css


def test_page_costs_a_constant_number_of_queries(client: Any, published: BilanWorld) -> None:
    with CaptureQueriesContext(connection) as first:
        assert client.get(PAGE).status_code == 200
    more_contributions(published, 8)
    with CaptureQueriesContext(connection) as second:
        assert client.get(PAGE).status_code == 200
    assert len(first) == len(second) <= 14


# --- files -----------------------------------------------------------------------------------------


def cast(field: dict[str, Any], text: str) -> Any:
    if text == "":
        assert not field.get("constraints", {}).get("required"), field["name"]
        return None
    kind = field["type"]
    if kind == "integer":
        return int(text)
    if kind == "number":
        return Decimal(text)
    if kind == "boolean":
        assert text in ("true", "false")
        return text == "true"
    if kind == "date":
        return date.fromisoformat(text)
    return text


def test_csv_parses_against_its_schema_and_recomputes_the_figures(client: Any, published: BilanWorld) -> None:
    data = client.get(f"{API}bilan/").json()
    schema = data["csv_schema"]
    response = client.get(f"{API}bilan.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="bilan-bilan-marche.csv"' in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("id,") and "\r\n" in text  # UTF-8 without BOM, CRLF, as the open data
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [f["name"] for f in schema["fields"]]
    assert rows[0][-3:] == ["zones", "lon", "lat"]
    records = [
        {f["name"]: cast(f, cell) for f, cell in zip(schema["fields"], row, strict=True)} for row in rows[1:]
    ]
    by_id = {r["id"]: r for r in records}
    assert len(records) == data["totals"]["published"] == 10
    assert by_id[published.id("c7")]["zones"] == "Quartier Est ; Square des Lilas"
    assert by_id[published.id("c5")]["zones"] is None
    assert by_id[published.id("c7")]["channel_detail"] is None  # a letter's précision stays internal
    assert by_id[published.id("c4")]["channel_detail"] == "Réunion publique du 12 mars"
    assert by_id[published.id("c3")]["created_date"] == date(2026, 3, 30)  # Paris day
    assert by_id[published.id("c1")]["answered"] is True and by_id[published.id("c1")]["first_answer_date"]
    assert by_id[published.id("c3")]["answered"] is False
    assert all(-r["lon"].as_tuple().exponent <= 5 and -r["lat"].as_tuple().exponent <= 5 for r in records)
    # Every figure can be recomputed from the file.
    assert sum(r["kind"] == "idee" for r in records) == 4
    assert sum(r["supports"] for r in records) == data["contributors"]["supports"]
    assert sum(not r["answered"] for r in records) == data["answers"]["unanswered_count"]
    assert sum("Quartier Ouest" in (r["zones"] or "") for r in records) == 6


def test_geojson_is_a_valid_feature_collection_with_the_licence(client: Any, published: BilanWorld) -> None:
    response = client.get(f"{API}bilan.geojson")
    assert response["Content-Type"] == "application/geo+json; charset=utf-8"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert body["license"]["url"] == "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    assert "Ville de Test" in body["metadata"]["description"]
    assert len(body["features"]) == 10
    kinds = {f["id"]: f["geometry"]["type"] for f in body["features"]}
    assert kinds[published.id("c3")] == "Polygon" and kinds[published.id("c6")] == "LineString"
    for feature in body["features"]:
        assert feature["type"] == "Feature" and isinstance(feature["properties"], dict)
        assert {"title", "text", "pseudonym", "lon", "lat"}.isdisjoint(feature["properties"])
        coordinates = json.dumps(feature["geometry"]["coordinates"])
        assert all(len(d) <= 5 for d in re.findall(r"\.(\d+)", coordinates))


def test_no_personal_data_in_any_output(client: Any, published: BilanWorld) -> None:
    outputs = {
        "page": client.get(PAGE).content.decode(),
        "phase page": client.get(f"{PAGE}?phase={published.concertation.pk}").content.decode(),
        "json": client.get(f"{API}bilan/").content.decode(),
        "csv": client.get(f"{API}bilan.csv").content.decode(),
        "geojson": client.get(f"{API}bilan.geojson").content.decode(),
    }
    for name, text in outputs.items():
        no_secrets(text)
        assert FREE_TEXT not in text, name
    for name in ("csv", "geojson"):
        assert "Plus de bancs" not in outputs[name]  # no titles in the files


def test_bilan_as_dict_is_json(world: BilanWorld) -> None:
    data = json.loads(json.dumps(bilan_as_dict(bilan_compute(world.project))))
    assert data["contributors"]["identified"] == 3
    assert data["participation"]["periods"][1]["start"] == "2026-03-09"
