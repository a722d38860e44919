"""Citizens' pages through Django's test client: filing without scripts, the JSON answers the scripts
use, the checks before sending, the public page, « +1 et suivre », the tracking link; never any
personal data in a public answer."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.urls import reverse

from signalements.models import Channel, Follower, Report, Support, TicketState
from signalements.services import ticket_internal_note, ticket_transition
from tests.signalements.world import World, at, gps_jpeg
from tests.web.conftest import PERSONAL, PERSONAL_TEXTS, file_report

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def form(world: World, east_m: float = -500, north_m: float = 100, **extra: Any) -> dict[str, Any]:
    lon, lat = at(east_m, north_m)
    data = {
        "lon": f"{lon:.7f}",
        "lat": f"{lat:.7f}",
        "category": "nid-de-poule",
        "description": "Trou dans la chaussée",
        "idempotency_key": "cle-de-test-0001",
    }
    data.update(extra)
    return data


def assert_no_personal_data(html: str) -> None:
    for text in PERSONAL_TEXTS:
        assert text not in html, f"personal data shown: {text!r}"


# --- filing without scripts -------------------------------------------------------------------------


def test_the_filing_form_offers_every_path_without_a_map(client, world):
    # when a citizen opens the form
    page = client.get(reverse("web:report-new"))
    # then it offers places, coordinates and the leaf categories, each input with its label
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="place"' in html and "Secteur Ouest" in html and "Secteur Est" in html
    assert 'id="lat"' in html and 'for="lat"' in html and 'for="lon"' in html
    assert 'id="cat-nid-de-poule"' in html and 'for="cat-nid-de-poule"' in html
    assert 'id="cat-voirie"' not in html  # a parent is a group, not a choice
    assert 'name="idempotency_key" value="' in html


def test_filing_without_scripts_files_routes_and_confirms(client, world):
    # when the form is posted as a browser without scripts does
    answer = client.post(reverse("web:report-new"), form(world, email="Moi@Example.net", consent="1"))
    # then the report is filed from the web channel and the browser goes to the confirmation
    report = Report.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:report-filed", args=[report.reference])
    assert report.channel == Channel.WEB
    assert report.ticket.service == world.west
    # and the confirmation gives the reference, the service, the router's explanation, the link
    page = client.get(answer["Location"]).content.decode()
    assert report.reference in page and "Voirie Ouest" in page
    assert report.ticket.routing["explanation"] in page
    assert reverse("web:report-detail", args=[report.reference]) in page
    assert "moi@example.net" not in page.lower()


def test_the_confirmation_is_only_for_the_session_that_filed(client, world):
    report = file_report(world).report
    # when someone else opens the confirmation address
    answer = client.get(reverse("web:report-filed", args=[report.reference]))
    # then they are sent to the public page
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:report-detail", args=[report.reference])


def test_a_place_from_the_list_is_a_position(client, world):
    # given the places offered without a map
    page = client.get(reverse("web:report-new")).content.decode()
    key = page.split('data-lat="')[0].rsplit('value="', 1)[1].split('"')[0]
    # when a citizen picks one and types where exactly, without coordinates
    data = form(world, lon="", lat="", place=key, category="lampadaire", address="Devant le 3 rue du Test")
    answer = client.post(reverse("web:report-new"), data)
    # then the report is filed inside that place, with the words typed
    assert answer.status_code == 302
    report = Report.objects.get()
    assert report.address == "Devant le 3 rue du Test"
    assert report.ticket.service == world.lighting


def test_french_decimal_commas_are_read(client, world):
    lon, lat = at(-500, 100)
    data = form(world, lon=f"{lon:.6f}".replace(".", ","), lat=f"{lat:.6f}".replace(".", ","))
    assert client.post(reverse("web:report-new"), data).status_code == 302


def test_missing_fields_are_a_400_with_every_message_kept_in_the_form(client, world):
    # when the form is posted without a position nor a category, with a description
    data = {"description": "Texte à garder", "idempotency_key": "k-1"}
    answer = client.post(reverse("web:report-new"), data)
    # then it comes back as a 400 with the errors summarised and the text kept
    html = answer.content.decode()
    assert answer.status_code == 400
    assert 'id="error-summary"' in html and 'href="#where"' in html and 'href="#what"' in html
    assert "Texte à garder" in html
    assert Report.objects.count() == 0


def test_the_scripts_get_the_errors_as_json(client, world):
    answer = client.post(reverse("web:report-new"), {"lat": "48,8", "idempotency_key": "k"}, **JSON)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "donnees_invalides" and "lat" in body["errors"]


def test_a_place_outside_the_territory_is_refused_with_the_routers_message(client, world):
    answer = client.post(reverse("web:report-new"), form(world, lon="5.0", lat="45.0"), **JSON)
    assert answer.status_code == 422
    assert answer.json()["code"] == "hors_territoire"
    assert "where" in answer.json()["errors"]


def test_a_bad_email_is_shown_on_the_email_field(client, world):
    answer = client.post(reverse("web:report-new"), form(world, email="pas-une-adresse"), **JSON)
    assert answer.status_code == 400
    assert "email" in answer.json()["errors"]


def test_sending_twice_with_the_same_key_files_once(client, world):
    first = client.post(reverse("web:report-new"), form(world), **JSON)
    second = client.post(reverse("web:report-new"), form(world), **JSON)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["reference"] == second.json()["reference"]
    assert Report.objects.count() == 1


def test_a_photo_with_gps_is_a_position(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    lon, lat = at(800, -300)
    photo = SimpleUploadedFile("IMG_1.jpg", gps_jpeg(lon, lat), content_type="image/jpeg")
    data = form(world, lon="", lat="", photos=photo)
    answer = client.post(reverse("web:report-new"), data)
    assert answer.status_code == 302
    report = Report.objects.get()
    assert report.ticket.service == world.east
    assert report.photos.count() == 1


# --- before sending: duplicates and ambiguous places -------------------------------------------------


def test_nearby_open_reports_are_shown_before_filing_without_scripts(client, world):
    existing = file_report(world).report
    # when a citizen files the same category 5 m away
    answer = client.post(reverse("web:report-new"), form(world, -505, 100, email="voisin@example.net"))
    # then the form comes back with « Est-ce le même problème ? », the report and its « +1 et suivre »
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "Est-ce le même problème ?" in html and existing.reference in html
    assert reverse("web:report-support", args=[existing.reference]) in html
    assert 'name="duplicates_seen" value="1"' in html
    assert Report.objects.count() == 1
    # and sending again (it is not the same) files it
    again = client.post(reverse("web:report-new"), form(world, -505, 100, duplicates_seen="1"))
    assert again.status_code == 302 and Report.objects.count() == 2


def test_the_scripts_get_the_check_before_sending(client, world):
    existing = file_report(world).report
    lon, lat = at(-505, 100)
    answer = client.get(reverse("web:report-check"), {"lon": lon, "lat": lat, "category": "nid-de-poule"})
    body = answer.json()
    assert answer.status_code == 200
    assert body["service"] == "Voirie Ouest" and body["ambiguous"] is False
    assert [item["reference"] for item in body["nearby"]] == [existing.reference]
    assert body["nearby"][0]["distance_m"] == 5
    assert_no_personal_data(json.dumps(body))
    # and a post that skipped it gets it as a 409 step
    step = client.post(reverse("web:report-new"), form(world, -505, 100), **JSON)
    assert step.status_code == 409 and step.json()["step"] == ["duplicates"]


def test_a_position_near_a_boundary_must_be_confirmed(client, world):
    # when a citizen files 3 m from the line between the west and east road services
    answer = client.post(reverse("web:report-new"), form(world, 3, 100), **JSON)
    # then the page asks to confirm the position
    assert answer.status_code == 409
    body = answer.json()
    assert body["step"] == ["ambiguous"] and body["check"]["ambiguous"] is True
    assert {alt["service"] for alt in body["check"]["alternatives"]} == {"Voirie Ouest"}
    # and once confirmed, it is filed (and flagged for staff)
    confirmed = client.post(reverse("web:report-new"), form(world, 3, 100, confirm_position="1"), **JSON)
    assert confirmed.status_code == 201
    assert Report.objects.get().ticket.ambiguous is True


def test_the_check_needs_a_position_and_a_category(client, world):
    assert client.get(reverse("web:report-check"), {"category": "nid-de-poule"}).status_code == 400
    outside = client.get(reverse("web:report-check"), {"lon": 5, "lat": 45, "category": "nid-de-poule"})
    assert outside.json()["error"]["code"] == "hors_territoire"


# --- the public page ---------------------------------------------------------------------------------


def test_the_public_page_shows_state_service_why_and_history_but_no_personal_data(client, world):
    filed = file_report(world, contact=PERSONAL)
    ticket_transition(ticket=filed.ticket, actor=world.agent_west, to_state=TicketState.PRIS_EN_COMPTE)
    ticket_transition(
        ticket=filed.ticket,
        actor=world.agent_west,
        to_state=TicketState.EN_COURS,
        public_message="Une équipe est en route.",
        internal_note="Code portail 1234",
    )
    ticket_internal_note(ticket=filed.ticket, actor=world.agent_west, note="Appeler la voisine")
    page = client.get(reverse("web:report-detail", args=[filed.report.reference]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Voirie Ouest" in html and filed.ticket.routing["explanation"] in html
    assert "Une équipe est en route." in html and 'aria-current="step"' in html
    assert "En cours" in html and "(étape actuelle)" in html
    assert_no_personal_data(html)
    for private in ("Code portail", "Appeler la voisine", "agent-ouest"):
        assert private not in html


def test_the_home_page_lists_reports_without_personal_data(client, world):
    filed = file_report(world, contact=PERSONAL, address="12 rue du Test")
    page = client.get(reverse("web:home"))
    html = page.content.decode()
    assert page.status_code == 200
    assert (
        filed.report.reference in html
        and "Signaler un problème" in html
        and "Projets en concertation" in html
    )
    assert_no_personal_data(html)
    # filters
    assert filed.report.reference not in client.get(reverse("web:home"), {"etat": "resolus"}).content.decode()
    assert filed.report.reference in client.get(reverse("web:home"), {"categorie": "voirie"}).content.decode()


def test_unpublished_and_unknown_reports_are_404(client, world, settings):
    settings.REPORTS_PUBLISH_UNCONFIRMED = False
    hidden = file_report(world, contact=PERSONAL).report
    assert client.get(reverse("web:report-detail", args=[hidden.reference])).status_code == 404
    assert client.get(reverse("web:report-detail", args=["SIG-0000-000000"])).status_code == 404


def test_plus_one_and_follow_counts_once_and_follows(client, world):
    report = file_report(world).report
    url = reverse("web:report-support", args=[report.reference])
    first = client.post(url, {"email": "Voisin@Example.net"})
    client.post(url, {"email": "voisin@example.net"})
    assert first.status_code == 302
    assert Support.objects.filter(report=report).count() == 1
    assert Follower.objects.filter(report=report, email="voisin@example.net").exists()
    page = client.get(first["Location"]).content.decode()
    assert "1 personne soutient ce signalement." in page and "voisin@example.net" not in page
    # the scripts get JSON
    answer = client.post(url, {}, **JSON)
    assert answer.json()["support_count"] == 2


def test_a_closed_report_cannot_be_supported(client, world):
    filed = file_report(world)
    ticket_transition(ticket=filed.ticket, actor=world.agent_west, to_state=TicketState.RESOLU)
    answer = client.post(reverse("web:report-support", args=[filed.report.reference]), {}, **JSON)
    assert answer.status_code == 409
    assert client.post(reverse("web:report-support", args=["SIG-0-0"]), {}, **JSON).status_code == 404


def test_the_tracking_link_confirms_and_shows_the_report(client, world, settings):
    settings.REPORTS_PUBLISH_UNCONFIRMED = False
    filed = file_report(world, contact=PERSONAL)
    page = client.get(reverse("web:tracking", args=[filed.tracking_token]))
    html = page.content.decode()
    assert page.status_code == 200 and filed.report.reference in html and "confirmée" in html
    assert_no_personal_data(html)
    filed.report.refresh_from_db()
    assert filed.report.published
    assert client.get(reverse("web:tracking", args=["inconnu"])).status_code == 404


def test_the_projects_page_holds_its_place(client, world):
    assert client.get(reverse("web:projects")).status_code == 200


def test_pages_carry_the_strict_content_security_policy(client, world):
    answer = client.get(reverse("web:report-new"))
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = answer.content.decode()
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


# --- the geocoder (server-side, off by default) ------------------------------------------------------


class _FakeBAN(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        lon, lat = at(700, 200)
        body = json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": {"label": "8 Rue du Test 75004 Paris"},
                    }
                ],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def geocoder(settings):  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _FakeBAN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.GEOCODER_URL = f"http://127.0.0.1:{server.server_port}/search/"
    yield server
    server.shutdown()


def test_an_address_alone_is_located_by_the_geocoder(client, world, geocoder):
    search = client.get(reverse("web:address-search"), {"q": "8 rue du test"}).json()
    assert search["results"][0]["label"] == "8 Rue du Test 75004 Paris"
    data = form(world, lon="", lat="", address="8 rue du test")
    answer = client.post(reverse("web:report-new"), data)
    assert answer.status_code == 302
    assert Report.objects.get().ticket.service == world.east


def test_without_geocoder_an_address_alone_asks_for_a_position(client, world):
    answer = client.post(
        reverse("web:report-new"), form(world, lon="", lat="", address="8 rue du test"), **JSON
    )
    assert answer.status_code == 400 and "where" in answer.json()["errors"]
    assert client.get(reverse("web:address-search"), {"q": "8 rue du test"}).json() == {"results": []}


def test_the_public_page_shows_only_the_exif_free_copies_of_photos(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from signalements.tasks import photo_process_task

    # given a report with a phone photo (GPS, camera) once its copies are made
    upload = SimpleUploadedFile("IMG_Jeanne_Martin.jpg", gps_jpeg(*at(-500, 100)), content_type="image/jpeg")
    filed = file_report(world, photos=[upload])
    photo = filed.report.photos.get()
    photo_process_task(photo.pk)
    photo.refresh_from_db()
    # when the public page is read
    html = client.get(reverse("web:report-detail", args=[filed.report.reference])).content.decode()
    # then it links the copies only, and the copies carry no EXIF
    assert photo.thumbnail.url in html and photo.web.url in html
    assert photo.original.name not in html and "IMG_Jeanne" not in html
    with photo.web.open("rb") as served:
        assert not Image.open(served).getexif()


# --- rate limits (the shared Redis limiter, on a database of these tests) ----------------------------


@pytest.fixture
def page_limits(settings):  # type: ignore[no-untyped-def]
    import redis

    url = "redis://127.0.0.1:6379/11"
    client = redis.Redis.from_url(url)
    client.flushdb()
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMIT_REDIS_URL = url
    settings.RATE_LIMITS = {
        "report_create": "1/h",
        "support": "1/h",
        "login": "1/15m",
        "address_search": "1/h",
    }
    yield
    client.flushdb()


def test_the_pages_writes_share_the_rate_limits(client, world, page_limits):
    assert client.post(reverse("web:report-new"), form(world), **JSON).status_code == 201
    refused = client.post(reverse("web:report-new"), form(world, idempotency_key="autre"), **JSON)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert client.post(reverse("web:report-new"), form(world, idempotency_key="3")).status_code == 429
    assert client.post(reverse("web:login"), {"username": "x", "password": "y"}).status_code == 200
    assert client.post(reverse("web:login"), {"username": "x", "password": "y"}).status_code == 429
