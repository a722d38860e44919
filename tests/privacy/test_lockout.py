"""Sign-in lockout (config/lockout.py) on the admin's sign-in page, with Redis database 10."""

from __future__ import annotations

import base64
import html
import logging
import time

import pytest
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from config import lockout as lockout_module

pytestmark = pytest.mark.django_db

LOCKED = "Trop de tentatives : réessayez dans 15 minutes."
INVALID = "compléter correctement"  # Django's French « invalid login » message


def sign_in(client, username: str, password: str, ip: str = "192.0.2.10", url: str = "/admin/login/"):  # type: ignore[no-untyped-def]
    return client.post(url, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302


@pytest.fixture
def admin_user(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_superuser("admin-test", password="bon-mot-de-passe")


def test_five_failures_lock_the_account_even_with_the_right_password(client, admin_user, lockout) -> None:
    # given four failed attempts: the usual error
    for _ in range(4):
        response = sign_in(client, "admin-test", "faux")
        assert response.status_code == 200
        assert LOCKED not in text(response)
        assert INVALID in text(response)
    # when the fifth fails, the lock starts and the page says so, in the sign-in page's own layout
    fifth = sign_in(client, "admin-test", "faux")
    assert fifth.status_code == 429
    assert LOCKED in text(fifth)
    assert 'name="username"' in text(fifth)  # still the admin's form
    assert int(fifth["Retry-After"]) == 900
    # then even the right password is refused, from any address, with the same message only
    refused = sign_in(client, "admin-test", "bon-mot-de-passe", ip="198.51.100.7")
    assert refused.status_code == 429
    assert LOCKED in text(refused)
    assert INVALID not in text(refused)  # Django's own « wrong username or password » is replaced
    assert "_auth_user_id" not in client.session


def test_refused_attempts_do_not_extend_the_lock(client, admin_user, lockout) -> None:
    for _ in range(5):
        sign_in(client, "admin-test", "faux")
    key = next(k for k in lockout.keys("concerto:lockout:lock:username:*"))
    lockout.expire(key, 30)
    sign_in(client, "admin-test", "faux")
    assert lockout.ttl(key) <= 30


def test_the_lock_ends_and_the_right_password_works_again(client, admin_user, lockout, settings) -> None:
    settings.LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(5):
        sign_in(client, "admin-test", "faux")
    assert sign_in(client, "admin-test", "bon-mot-de-passe").status_code == 429
    assert "1 minute." in text(sign_in(client, "admin-test", "bon-mot-de-passe"))
    time.sleep(1.2)
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe"))


def test_other_accounts_are_not_locked_and_a_success_clears_the_count(client, admin_user, lockout) -> None:
    for _ in range(5):
        sign_in(client, "someone-else", "faux", ip="203.0.113.5")
    # the locked name is another one: admin-test signs in from another address
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe", ip="203.0.113.6"))
    client.logout()
    # four failures, a success, four failures: never five in a row, never locked
    for _ in range(4):
        sign_in(client, "admin-test", "faux")
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe"))
    client.logout()
    for _ in range(4):
        sign_in(client, "admin-test", "faux")
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe"))


def test_an_address_trying_many_names_is_locked(client, admin_user, lockout, settings) -> None:
    settings.LOGIN_LOCKOUT_IP_ATTEMPTS = 3
    for n in range(3):
        sign_in(client, f"nom-{n}", "faux", ip="203.0.113.9")
    # then that address is refused even for a right password; another address is not
    assert sign_in(client, "admin-test", "bon-mot-de-passe", ip="203.0.113.9").status_code == 429
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe", ip="203.0.113.10"))


def test_http_basic_on_the_api_is_refused_while_locked(client, admin_user, lockout) -> None:
    for _ in range(5):
        sign_in(client, "admin-test", "faux")
    api = APIClient()
    credentials = base64.b64encode(b"admin-test:bon-mot-de-passe").decode()
    response = api.get("/api/tickets/", HTTP_AUTHORIZATION=f"Basic {credentials}", REMOTE_ADDR="192.0.2.77")
    assert response.status_code in (401, 403)
    lockout_module.clear(username="admin-test", ip="192.0.2.10")
    assert api.get("/api/tickets/", HTTP_AUTHORIZATION=f"Basic {credentials}").status_code == 200


def test_the_site_sign_in_page_is_locked_too(client, admin_user, lockout) -> None:
    try:
        url = reverse("web:login")
    except NoReverseMatch:  # pragma: no cover - the pages are built by another team
        pytest.skip("no web:login page yet")
    for _ in range(5):
        sign_in(client, "admin-test", "faux", url=url)
    refused = sign_in(client, "admin-test", "bon-mot-de-passe", url=url)
    assert refused.status_code == 429
    assert LOCKED in text(refused)


def test_redis_down_fails_open_with_a_warning(client, admin_user, lockout, settings, caplog) -> None:
    settings.LOGIN_LOCKOUT_REDIS_URL = "redis://127.0.0.1:1/0"
    with caplog.at_level(logging.WARNING, logger="concerto.lockout"):
        for _ in range(6):
            sign_in(client, "admin-test", "faux")
        assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe"))
    assert "lockout unavailable" in caplog.text


def test_the_test_profile_turns_it_off(client, admin_user, settings, privacy_redis) -> None:
    settings.RATE_LIMITS_ENABLED = False
    for _ in range(8):
        sign_in(client, "admin-test", "faux")
    assert signed_in(sign_in(client, "admin-test", "bon-mot-de-passe"))


def test_the_message_counts_minutes() -> None:
    assert lockout_module.message(900) == LOCKED
    assert lockout_module.message(61) == "Trop de tentatives : réessayez dans 2 minutes."
    assert lockout_module.message(5) == "Trop de tentatives : réessayez dans 1 minute."
