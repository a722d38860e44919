"""The signalements API end to end on PostGIS: filing, duplicates, support, tickets, privacy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from geo.images import has_metadata
from geo.models import OutboxMessage
from signalements.models import (
    Follower,
    Photo,
    Report,
    ReportContact,
    Ticket,
    TicketEvent,
    TicketState,
)
from signalements.photos import photo_process
from tests.signalements.world import World, at, gps_jpeg

pytestmark = pytest.mark.django_db

CONTACT = {
    "name": "Jeanne Martin",
    "email": "jeanne.martin@example.net",
    "phone": "+33 6 12 34 56 78",
    "consent": True,
}
PERSONAL = ("Jeanne", "Martin", "jeanne.martin", "12 34 56 78", "612345678")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


def file_report(api: APIClient, **overrides):  # type: ignore[no-untyped-def]
    lon, lat = at(-500, 100)
    body = {
        "lon": lon,
        "lat": lat,
        "category": "nid-de-poule",
        "description": "Trou profond devant le 12",
        **overrides,
    }
    return api.post("/api/signalements/", body, format="json")


def no_personal_data(payload: object) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    for fragment in PERSONAL:
        assert fragment not in text, f"personal data {fragment!r} in {text[:300]}"


# --- Filing ---------------------------------------------------------------------------------------


def test_filing_as_json_routes_stores_and_answers_201(api, world: World):
    # when a citizen files a pothole in the west sector, with a contact
    response = file_report(api, contact=CONTACT)
    # then the answer has the reference, the service and the router's explanation
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["reference"].startswith(f"SIG-{timezone.localdate().year}-")
    assert data["service"]["name"] == "Voirie Ouest"
    assert "le point est dans la zone « Secteur Ouest »" in data["routing"]["explanation"]
    assert data["tracking_url"].endswith(f"/api/signalements/{data['reference']}/")
    no_personal_data(data)
    # and the report, its contact apart, its ticket with the decision and its first event are stored
    report = Report.objects.get(reference=data["reference"])
    assert report.ticket.service == world.west
    assert report.ticket.state == TicketState.NOUVEAU
    assert report.ticket.routing["rule"] == "zone"
    assert report.ticket.due_at == report.created_at + world.nid.default_delay
    assert ReportContact.objects.get(report=report).email == "jeanne.martin@example.net"
    assert report.ticket.events.get().kind == TicketEvent.Kind.CREATED
    # and the service's e-mail and the reporter's confirmation are in the outbox
    destinations = set(OutboxMessage.objects.values_list("destination", flat=True))
    assert destinations == {"voirie-ouest@example.org", "jeanne.martin@example.net"}
    assert Follower.objects.get(report=report).reason == Follower.Reason.REPORTER


def test_filing_with_a_geojson_point(api, world: World):
    lon, lat = at(600, 0)
    response = api.post(
        "/api/signalements/",
        {
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "category": "nid-de-poule",
            "description": "Trou",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["service"]["name"] == "Voirie Est"


def test_filing_multipart_with_a_geotagged_jpeg_takes_its_position_and_strips_exif(api, world: World, media):
    # given a phone photo taken in the east sector, and no coordinates typed
    lon, lat = at(700, -300)
    photo = SimpleUploadedFile("IMG_Jeanne_Martin.jpg", gps_jpeg(lon, lat), content_type="image/jpeg")
    # when it is filed as multipart, with the contact as form fields
    response = api.post(
        "/api/signalements/",
        {"category": "nid-de-poule", "photos": [photo], "contact_email": "jeanne.martin@example.net"},
        format="multipart",
    )
    # then the position comes from the photo's GPS and the east service receives it
    assert response.status_code == 201, response.json()
    report = Report.objects.get(reference=response.json()["reference"])
    assert report.location.x == pytest.approx(lon, abs=1e-5)
    assert report.location.y == pytest.approx(lat, abs=1e-5)
    assert report.ticket.service == world.east
    # and once the photo task ran, the public page serves EXIF-free copies only
    stored = Photo.objects.get(report=report)
    photo_process(photo_id=stored.pk)
    detail = api.get(f"/api/signalements/{report.reference}/").json()
    [served] = detail["properties"]["photos"]
    assert served["web"].startswith("/media/photos/")
    for key in ("web", "thumbnail"):
        data = (media / "media" / served[key].removeprefix("/media/")).read_bytes()
        assert not has_metadata(data)
    no_personal_data(detail)


def test_the_same_idempotency_key_returns_the_first_report(api, world: World):
    headers = {"HTTP_IDEMPOTENCY_KEY": "3f2b8c1e-phone-retry"}
    lon, lat = at(-500, 100)
    body = {"lon": lon, "lat": lat, "category": "nid-de-poule", "description": "Trou"}
    one = api.post("/api/signalements/", body, format="json", **headers)
    two = api.post("/api/signalements/", body, format="json", **headers)
    assert one.status_code == 201
    assert two.status_code == 200
    assert two["Idempotent-Replayed"] == "true"
    assert two.json()["reference"] == one.json()["reference"]
    assert Report.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "status", "field", "fragment"),
    [
        ({"lon": 200.0}, 400, "location", "Longitude hors limites"),
        ({"lat": -91.0}, 400, "location", "Latitude hors limites"),
        ({"lon": 5.37, "lat": 43.29}, 422, "location", "hors du territoire couvert"),
        ({"category": "n-existe-pas"}, 400, "category", "Catégorie inconnue"),
        ({"category": "voirie"}, 400, "category", "Choisissez une sous-catégorie"),
        ({"description": ""}, 400, "description", "Décrivez le problème ou joignez une photo"),
        ({"description": "x" * 4001}, 400, "description", "4000 caractères au plus"),
        ({"contact": {"email": "pas-une-adresse"}}, 400, "contact.email", "Adresse e-mail invalide"),
    ],
)
def test_bad_input_is_refused_with_a_french_message_and_nothing_created(
    api, world, overrides, status, field, fragment
):
    response = file_report(api, **overrides)
    assert response.status_code == status, response.json()
    data = response.json()
    assert any(fragment in message for message in data["errors"][field]), data
    assert fragment in json.dumps(data, ensure_ascii=False)
    assert Report.objects.count() == Ticket.objects.count() == OutboxMessage.objects.count() == 0


def test_covered_but_no_service_for_the_category_is_422(api, world: World):
    world.territory.defaults.all().delete()
    response = file_report(api, category="lampadaire")
    assert response.status_code == 422
    assert response.json()["code"] == "aucun_service_competent"


def test_a_file_that_is_not_an_image_is_422_and_an_oversize_one_413(api, world: World, media, settings):
    lon, lat = at(-500, 0)
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 pas une image", content_type="image/jpeg")
    response = api.post(
        "/api/signalements/",
        {"lon": lon, "lat": lat, "category": "nid-de-poule", "photos": [fake]},
        format="multipart",
    )
    assert response.status_code == 422, response.json()
    assert "photos" in response.json()["errors"]
    settings.PHOTO_MAX_BYTES = 10_000
    big = SimpleUploadedFile("big.jpg", gps_jpeg(lon, lat, size=(1600, 1200)), content_type="image/jpeg")
    response = api.post(
        "/api/signalements/",
        {"lon": lon, "lat": lat, "category": "nid-de-poule", "photos": [big]},
        format="multipart",
    )
    assert response.status_code == 413, response.json()
    assert Report.objects.count() == Photo.objects.count() == 0


def test_malformed_json_is_a_clear_400(api, world: World):
    response = api.generic("POST", "/api/signalements/", "{pas du json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "requete_illisible"


# --- Duplicates and support ------------------------------------------------------------------------------


def test_nearby_lists_open_reports_of_the_category_nearest_first(api, world: World):
    near = file_report(api, lon=at(-500, 110)[0], lat=at(-500, 110)[1]).json()["reference"]  # 10 m away
    nearer = file_report(api, lon=at(-500, 103)[0], lat=at(-500, 103)[1]).json()["reference"]  # 3 m
    file_report(api, lon=at(-500, 200)[0], lat=at(-500, 200)[1])  # 100 m: too far
    lon, lat = at(-500, 100)
    api.post(
        "/api/signalements/",
        {"lon": lon, "lat": lat, "category": "lampadaire", "description": "Éteint"},
        format="json",
    )
    closed = file_report(api, lon=lon, lat=lat).json()["reference"]
    Ticket.objects.filter(report__reference=closed).update(state=TicketState.RESOLU)

    response = api.get("/api/signalements/nearby", {"lon": lon, "lat": lat, "category": "nid-de-poule"})
    assert response.status_code == 200
    features = response.json()["features"]
    assert [f["id"] for f in features] == [nearer, near]
    assert features[0]["properties"]["distance_m"] == pytest.approx(3, abs=0.5)


def test_support_counts_each_person_once_and_makes_followers(api, world: World):
    ref = file_report(api).json()["reference"]
    first = api.post(f"/api/signalements/{ref}/support/", {"email": "voisin@example.net"}, format="json")
    again = api.post(f"/api/signalements/{ref}/support/", {"email": "voisin@example.net"}, format="json")
    other = APIClient(REMOTE_ADDR="10.1.2.3").post(f"/api/signalements/{ref}/support/", {}, format="json")
    assert first.json() == {"reference": ref, "supported": True, "new": True, "support_count": 1}
    assert again.json()["new"] is False
    assert other.json()["support_count"] == 2
    assert Follower.objects.filter(report__reference=ref, reason=Follower.Reason.SUPPORTER).count() == 1
    listing = api.get("/api/signalements/").json()
    assert listing["features"][0]["properties"]["support_count"] == 2


def test_a_closed_report_cannot_be_supported(api, world: World):
    ref = file_report(api).json()["reference"]
    Ticket.objects.filter(report__reference=ref).update(state=TicketState.RESOLU)
    response = api.post(f"/api/signalements/{ref}/support/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "signalement_clos"


def test_staff_merge_a_duplicate_and_its_reporter_follows_the_original(api, world: World):
    original = file_report(api).json()["reference"]
    duplicate = file_report(api, contact=CONTACT | {"email": "autre@example.net"}).json()["reference"]
    staff = APIClient()
    staff.force_login(world.agent_west)
    response = staff.post(f"/api/tickets/{duplicate}/merge/", {"original": original}, format="json")
    assert response.status_code == 200, response.json()
    dup = Report.objects.get(reference=duplicate)
    assert dup.ticket.state == TicketState.DOUBLON
    assert dup.duplicate_of.reference == original
    assert Follower.objects.filter(
        report__reference=original, email="autre@example.net", reason=Follower.Reason.MERGED
    ).exists()
    told = OutboxMessage.objects.filter(destination="autre@example.net").values_list("body_text", flat=True)
    assert any(original in body for body in told)
    public = api.get(f"/api/signalements/{duplicate}/").json()["properties"]
    assert public["status"] == "doublon"
    assert public["duplicate_of"] == original


# --- Tickets -------------------------------------------------------------------------------------------


def staff_client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def test_an_agent_works_the_tickets_of_their_service_through_the_workflow(api, world: World):
    ref = file_report(api, contact=CONTACT).json()["reference"]
    agent = staff_client(world.agent_west)
    for state in ("pris_en_compte", "programme", "en_cours"):
        response = agent.post(f"/api/tickets/{ref}/transition/", {"state": state}, format="json")
        assert response.status_code == 200, response.json()
    response = agent.post(
        f"/api/tickets/{ref}/transition/",
        {
            "state": "resolu",
            "public_message": "Trou rebouché ce matin.",
            "internal_note": "Enrobé à froid, 2 sacs",
        },
        format="json",
    )
    assert response.status_code == 200
    detail = response.json()
    assert detail["state"] == "resolu"
    assert [h["to_state"] for h in detail["history"]] == [
        "nouveau",
        "pris_en_compte",
        "programme",
        "en_cours",
        "resolu",
    ]
    assert detail["history"][-1]["actor"] == "agent-ouest"
    assert detail["history"][-1]["internal_note"] == "Enrobé à froid, 2 sacs"
    # the public sees the message, not the note nor who wrote it
    public = api.get(f"/api/signalements/{ref}/").json()["properties"]
    assert public["history"][-1]["message"] == "Trou rebouché ce matin."
    assert "Enrobé" not in json.dumps(public) and "agent-ouest" not in json.dumps(public)
    # the reporter (who agreed) is told
    assert OutboxMessage.objects.filter(
        destination="jeanne.martin@example.net", body_text__contains="Trou rebouché"
    ).exists()


def test_refused_transitions_answer_with_the_reason(api, world: World):
    ref = file_report(api).json()["reference"]
    agent = staff_client(world.agent_west)
    agent.post(f"/api/tickets/{ref}/transition/", {"state": "resolu"}, format="json")
    response = agent.post(f"/api/tickets/{ref}/transition/", {"state": "programme"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "transition_interdite"
    response = agent.post(
        f"/api/tickets/{ref}/transition/", {"state": "en_cours", "public_message": "revenu"}, format="json"
    )
    assert response.json()["code"] == "role_insuffisant"
    ref2 = file_report(api).json()["reference"]
    response = agent.post(f"/api/tickets/{ref2}/transition/", {"state": "rejete"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "motif_requis"
    assert Ticket.objects.get(report__reference=ref2).state == TicketState.NOUVEAU


def test_an_agent_of_another_service_gets_404_everywhere(api, world: World):
    ref = file_report(api).json()["reference"]  # west
    other = staff_client(world.agent_east)
    assert other.get(f"/api/tickets/{ref}/").status_code == 404
    for action, body in (
        ("transition", {"state": "pris_en_compte"}),
        ("notes", {"note": "x"}),
        ("updates", {"message": "x"}),
        ("assign", {"assignee": None}),
        ("reroute", {}),
    ):
        response = other.post(f"/api/tickets/{ref}/{action}/", body, format="json")
        assert response.status_code == 404, action
        assert response.json()["code"] == "introuvable"
    assert Ticket.objects.get(report__reference=ref).events.count() == 1
    assert ref not in json.dumps(other.get("/api/tickets/").json())
    # anonymous and a signed-in citizen without role see nothing of the staff API
    assert api.get("/api/tickets/").status_code in (401, 403)
    assert staff_client(world.outsider).get(f"/api/tickets/{ref}/").status_code == 403


def test_a_manager_of_the_organisation_sees_every_service(api, world: World):
    west = file_report(api).json()["reference"]
    east = file_report(api, lon=at(500, 0)[0], lat=at(500, 0)[1]).json()["reference"]
    refs = [t["reference"] for t in staff_client(world.manager).get("/api/tickets/").json()["results"]]
    assert set(refs) == {west, east}
    only_west = [
        t["reference"] for t in staff_client(world.agent_west).get("/api/tickets/").json()["results"]
    ]
    assert only_west == [west]


def test_transfer_moves_the_ticket_and_tells_both_services(api, world: World):
    ref = file_report(api).json()["reference"]
    agent = staff_client(world.agent_west)
    response = agent.post(
        f"/api/tickets/{ref}/transition/",
        {
            "state": "transfere",
            "service": world.east.pk,
            "public_message": "Ce trottoir relève du secteur Est.",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    ticket = Ticket.objects.get(report__reference=ref)
    assert (ticket.service, ticket.state) == (world.east, TicketState.TRANSFERE)
    assert agent.get(f"/api/tickets/{ref}/").status_code == 404
    assert (
        staff_client(world.agent_east)
        .post(f"/api/tickets/{ref}/transition/", {"state": "pris_en_compte"}, format="json")
        .status_code
        == 200
    )
    destinations = set(OutboxMessage.objects.values_list("destination", flat=True))
    assert {"voirie-ouest@example.org", "voirie-est@example.org"} <= destinations


def test_reroute_runs_the_router_again_and_keeps_both_decisions(api, world: World):
    ref = file_report(api).json()["reference"]
    lon, lat = at(800, 0)
    response = staff_client(world.agent_west).post(
        f"/api/tickets/{ref}/reroute/",
        {"lon": lon, "lat": lat, "reason": "Position corrigée sur place"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    ticket = Ticket.objects.get(report__reference=ref)
    assert ticket.service == world.east
    assert ticket.state == TicketState.TRANSFERE
    event = ticket.events.get(kind=TicketEvent.Kind.REROUTE)
    assert event.data["before"]["service_name"] == "Voirie Ouest"
    assert event.data["after"]["service_name"] == "Voirie Est"
    assert event.data["after"]["reason"] == "Position corrigée sur place"


def test_assignment_priority_overdue_and_queue_filters(api, world: World):
    ref = file_report(api).json()["reference"]
    agent = staff_client(world.agent_west)
    assert (
        agent.post(
            f"/api/tickets/{ref}/assign/", {"assignee": world.agent_east.pk}, format="json"
        ).status_code
        == 400
    )
    assert (
        agent.post(
            f"/api/tickets/{ref}/assign/", {"assignee": world.agent_west.pk}, format="json"
        ).status_code
        == 200
    )
    assert agent.post(f"/api/tickets/{ref}/priority/", {"priority": 4}, format="json").status_code == 200
    Ticket.objects.filter(report__reference=ref).update(due_at=timezone.now() - timedelta(days=1))
    [mine] = agent.get("/api/tickets/", {"assigned_to_me": "1", "overdue": "1"}).json()["results"]
    assert (mine["reference"], mine["priority"], mine["overdue"], mine["assigned_to"]) == (
        ref,
        4,
        True,
        "agent-ouest",
    )


def test_staff_see_the_contact_and_the_public_never_does(api, world: World):
    ref = file_report(api, contact=CONTACT).json()["reference"]
    detail = staff_client(world.agent_west).get(f"/api/tickets/{ref}/").json()
    assert detail["contact"]["email"] == "jeanne.martin@example.net"
    for url in (
        "/api/signalements/",
        f"/api/signalements/{ref}/",
        "/api/signalements/nearby?lon={}&lat={}&category=nid-de-poule".format(*at(-500, 100)),
    ):
        no_personal_data(api.get(url).json())


def test_unconfirmed_reports_stay_private_when_the_setting_says_so(api, world: World, settings):
    settings.REPORTS_PUBLISH_UNCONFIRMED = False
    data = file_report(api, contact=CONTACT).json()
    assert data["published"] is False
    assert api.get("/api/signalements/").json()["count"] == 0
    assert api.get(f"/api/signalements/{data['reference']}/").status_code == 404
    confirmation = OutboxMessage.objects.get(destination="jeanne.martin@example.net")
    token = confirmation.body_text.split("/suivi/")[1].split("/")[0]
    tracked = api.get(f"/api/suivi/{token}/")
    assert tracked.status_code == 200
    assert tracked.json()["properties"]["reference"] == data["reference"]
    assert api.get("/api/signalements/").json()["count"] == 1
    assert api.get("/api/suivi/not-a-token/").status_code == 404


# --- Listing -------------------------------------------------------------------------------------------


def test_public_listing_is_geojson_with_filters_and_pages(api, world: World):
    for east in (-600, -300, 300, 600):
        lon, lat = at(east, 0)
        file_report(api, lon=lon, lat=lat)
    lon, lat = at(-100, 0)
    api.post(
        "/api/signalements/",
        {"lon": lon, "lat": lat, "category": "lampadaire", "description": "Éteint"},
        format="json",
    )
    page1 = api.get("/api/signalements/", {"page_size": 2}).json()
    assert page1["type"] == "FeatureCollection"
    assert page1["count"] == 5
    assert len(page1["features"]) == 2
    assert page1["next"].endswith("page=2&page_size=2") or "page=2" in page1["next"]
    assert api.get("/api/signalements/", {"category": "voirie"}).json()["count"] == 4
    assert api.get("/api/signalements/", {"category": "lampadaire"}).json()["count"] == 1
    west_lon, south_lat = at(-1000, -100)
    east_lon, north_lat = at(0, 100)
    assert (
        api.get("/api/signalements/", {"bbox": f"{west_lon},{south_lat},{east_lon},{north_lat}"}).json()[
            "count"
        ]
        == 3
    )
    assert api.get("/api/signalements/", {"service": world.east.pk}).json()["count"] == 2
    assert api.get("/api/signalements/", {"status": "nouveau"}).json()["count"] == 5
    assert api.get("/api/signalements/", {"status": "resolu"}).json()["count"] == 0
    today = timezone.localdate().isoformat()
    assert api.get("/api/signalements/", {"created_after": today}).json()["count"] == 5
    feature = page1["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert set(feature["properties"]) >= {
        "reference",
        "category",
        "status",
        "service",
        "support_count",
        "created_at",
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"status": "ferme"}, "status"),
        ({"page_size": "0"}, "page_size"),
        ({"created_after": "hier"}, "created_after"),
    ],
)
def test_bad_listing_filters_are_400(api, world: World, params, field):
    response = api.get("/api/signalements/", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_openapi_schema_and_docs_page_use_vendored_assets(api, world: World):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/signalements/" in schema.content.decode()
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html


def test_the_openapi_schema_generates_without_warnings_and_validates():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/api/signalements/{reference}/support/" in out.getvalue()
