"""« Mes données » (/mes-donnees/): a link by e-mail, the export, the erasure."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from geo.models import OutboxMessage
from privacy.links import hash_token
from privacy.models import SubjectRequest
from signalements.models import ReportContact
from tests.privacy.conftest import PRIVACY_TEST_REDIS
from tests.privacy.helpers import JEANNE, JEANNE_NAME, file_report

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://[^/\s]+(/mes-donnees/[A-Za-z0-9_-]+/)")


def same_page(a: str, b: str) -> bool:
    """Equal but for the per-response masked CSRF tokens."""
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    return token.sub("", a) == token.sub("", b)


def ask(client: Client, email: str = JEANNE, **extra):  # type: ignore[no-untyped-def]
    return client.post("/mes-donnees/", {"email": email, **extra})


def link_sent_to(email: str) -> str:
    message = OutboxMessage.objects.get(destination=email, topic="privacy")
    match = LINK.search(message.body_text)
    assert match, message.body_text
    return match.group(1)


def test_the_form_is_accessible_and_carries_a_hidden_honeypot(client) -> None:
    page = client.get("/mes-donnees/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<label for="id_email">' in html and 'autocomplete="email"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert re.search(r'<div hidden>\s*<label for="id_site_web">', html)
    assert "365 jours après sa clôture" in html  # the periods come from the settings
    assert "no-store" in page["Cache-Control"]


def test_asking_sends_one_link_and_answers_the_same_for_anyone(client, world, published) -> None:
    file_report(world)
    known = ask(client)
    unknown = ask(client, "personne@example.com")
    # then both answers are the same page
    assert known.status_code == unknown.status_code == 200
    assert same_page(known.content.decode(), unknown.content.decode())
    # and a link left through the outbox (topic "privacy"); only its hash is stored
    path = link_sent_to(JEANNE)
    token = path.rstrip("/").rsplit("/", 1)[1]
    request = SubjectRequest.objects.get(email=JEANNE)
    assert request.token_hash == hash_token(token) and token not in request.token_hash
    # asking again within the hour sends nothing more
    assert ask(client).status_code == 200
    assert OutboxMessage.objects.filter(destination=JEANNE, topic="privacy").count() == 1
    assert SubjectRequest.objects.filter(email=JEANNE).count() == 1


def test_the_link_shows_the_data_offers_the_download_and_erases(client, world, published) -> None:
    report = file_report(world)
    ask(client)
    path = link_sent_to(JEANNE)
    # the page lists what is held
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert report.reference in html and "Effacer mes données" in html
    assert page["X-Robots-Tag"] == "noindex, nofollow" and "no-store" in page["Cache-Control"]
    # the download is the whole export, as a JSON attachment
    download = client.get(f"{path}donnees.json")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="mes-donnees-concerto.json"'
    data = json.loads(download.content)
    assert data["reports"][0]["contact"]["name"] == JEANNE_NAME
    assert SubjectRequest.objects.get().exported_at is not None
    # erasing without ticking the box is refused
    refused = client.post(f"{path}supprimer/", {})
    assert refused.status_code == 400
    assert "Cochez la case" in refused.content.decode()
    assert ReportContact.objects.filter(email=JEANNE).exists()
    # erasing with it removes the data, keeps an anonymous trace, and the link stops working
    done = client.post(f"{path}supprimer/", {"confirm": "1"})
    assert done.status_code == 200
    assert "effacé" in done.content.decode()
    assert not ReportContact.objects.filter(email=JEANNE).exists()
    trace = SubjectRequest.objects.get()
    assert trace.email == "" and trace.erased_at is not None and trace.erased_counts["report_contacts"] == 1
    assert client.get(path).status_code == 404
    assert client.post(f"{path}supprimer/", {"confirm": "1"}).status_code == 404


def test_expired_and_unknown_links_are_404(client, published) -> None:
    ask(client)
    path = link_sent_to(JEANNE)
    SubjectRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(path)
    assert expired.status_code == 404
    assert "Demander un nouveau lien" in expired.content.decode()
    assert client.get("/mes-donnees/inconnu/").status_code == 404
    assert client.get("/mes-donnees/inconnu/donnees.json").status_code == 404


def test_bad_input_honeypot_and_csrf(client, published) -> None:
    assert ask(client, "pas-une-adresse").status_code == 400
    tripped = ask(client, site_web="http://spam.example")
    assert tripped.status_code == 400
    assert "Votre envoi n'a pas pu être accepté" in html.unescape(tripped.content.decode())
    assert not OutboxMessage.objects.exists()
    strict = Client(enforce_csrf_checks=True)
    assert ask(strict).status_code == 403
    assert client.get("/mes-donnees/x/supprimer/").status_code == 405


def test_the_request_is_rate_limited(client, settings, privacy_redis, published) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMIT_REDIS_URL = PRIVACY_TEST_REDIS
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "privacy_request": "3/h"}
    codes = [ask(client, f"personne{n}@example.com").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/mes-donnees/").status_code == 200  # reading the form is not limited
