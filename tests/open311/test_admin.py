"""The admin makes an API key, shows it once, keeps only its hash; a new key replaces the old one."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from signalements.models import ApiClient
from signalements.open311 import keys
from tests.signalements.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, world: World):  # type: ignore[no-untyped-def]
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "x"))
    return client


def shown_key(response) -> str:  # type: ignore[no-untyped-def]
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    found = [re.search(r"maintenant\) : (\S+)$", t) for t in texts]
    return next(m.group(1) for m in found if m)


def test_creating_a_client_shows_its_key_once(admin_client, world: World):
    response = admin_client.post(
        "/admin/signalements/apiclient/add/",
        {"name": "Appli citoyenne", "is_active": "on", "jurisdictions": [world.territory.pk]},
        follow=True,
    )
    assert response.status_code == 200
    key = shown_key(response)
    client = ApiClient.objects.get(name="Appli citoyenne")
    assert client.key_hash == keys.api_key_hash(key)
    assert list(client.jurisdictions.all()) == [world.territory]
    assert keys.api_client_for_key(key) == client
    # the change page never shows it again
    page = admin_client.get(f"/admin/signalements/apiclient/{client.pk}/change/").content.decode()
    assert key not in page and client.key_hash not in page
    assert admin_client.get("/admin/signalements/apiclient/").status_code == 200


def test_a_new_key_replaces_the_old_one(admin_client):
    client, old = keys.api_client_create(name="Appli")
    response = admin_client.post(
        "/admin/signalements/apiclient/", {"action": "new_key", "_selected_action": [client.pk]}, follow=True
    )
    new = shown_key(response)
    assert new != old
    assert keys.api_client_for_key(old) is None
    assert keys.api_client_for_key(new) == client
