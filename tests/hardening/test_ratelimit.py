"""Rate limits (config/ratelimit.py): filing, support, Open311 filing and sign-in answer 429 past the limit."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from config import ratelimit
from signalements.open311 import keys
from tests.signalements.world import *  # noqa: F403
from tests.signalements.world import World, at

pytestmark = pytest.mark.django_db


def file(api: APIClient, n: int = 0, **extra):  # type: ignore[no-untyped-def]
    lon, lat = at(-500 + 50 * n, 100)
    body = {"lon": lon, "lat": lat, "category": "nid-de-poule", "description": f"Trou n° {n}"}
    return api.post("/api/signalements/", body, format="json", **extra)


def assert_refused(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.content[:300]
    assert int(response["Retry-After"]) > 0
    payload = response.json()
    assert payload["code"] == "trop_de_requetes"
    assert payload["message"] == "Trop de requêtes : réessayez plus tard."


# --- Rates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [("20/h", 20, 3600), ("10/15m", 10, 900), ("60/hour", 60, 3600), ("5/30s", 5, 30), ("1/d", 1, 86400)],
)
def test_rates_read_as_requests_per_window(text, limit, window):
    assert ratelimit.parse_rate(text) == ratelimit.Rate(limit, window)


@pytest.mark.parametrize("text", ["", "20", "20/", "x/h", "20/2y", "-1/h"])
def test_unreadable_rates_are_refused(text):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(text)


def test_the_test_profile_turns_limits_off(world: World, settings):
    # given the test settings (RATE_LIMITS_ENABLED = False) and a tiny limit
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report_create": "1/h"}
    api = APIClient()
    # then filing three times is never refused
    assert [file(api, n).status_code for n in range(3)] == [201, 201, 201]


# --- Filing ---------------------------------------------------------------------------------------


def test_filing_past_the_limit_answers_429_with_retry_after(world: World, rate_limits):
    api = APIClient()
    # given two reports filed from one address (the limit)
    assert [file(api, n).status_code for n in range(2)] == [201, 201]
    # when a third is filed
    response = file(api, 2)
    # then it is refused in the API's error shape, with the time to wait
    assert_refused(response)
    assert int(response["Retry-After"]) <= 3600


def test_each_address_has_its_own_counter(world: World, rate_limits):
    api = APIClient()
    for n in range(2):
        file(api, n, REMOTE_ADDR="203.0.113.1")
    assert_refused(file(api, 2, REMOTE_ADDR="203.0.113.1"))
    # another address still files
    assert file(api, 3, REMOTE_ADDR="203.0.113.2").status_code == 201
    # an IPv6 client counts as its /64
    for n in range(2):
        file(api, 10 + n, REMOTE_ADDR="2001:db8:1:2::1")
    assert_refused(file(api, 12, REMOTE_ADDR="2001:db8:1:2::ffff"))
    assert file(api, 13, REMOTE_ADDR="2001:db8:1:3::1").status_code == 201


def test_a_signed_in_account_has_its_own_counter(world: World, rate_limits):
    # given an anonymous visitor who used up the address's limit
    anonymous = APIClient()
    for n in range(2):
        file(anonymous, n)
    assert_refused(file(anonymous, 2))
    # when a signed-in citizen files from the same address, the account is counted, not the address
    citizen = APIClient()
    citizen.force_authenticate(world.outsider)
    assert [file(citizen, 3 + n).status_code for n in range(2)] == [201, 201]
    assert_refused(file(citizen, 5))


def test_the_counter_starts_again_after_the_window(world: World, rate_limits, monkeypatch):
    api = APIClient()
    clock = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    for n in range(2):
        file(api, n)
    refused = file(api, 2)
    assert_refused(refused)
    # when the hour has passed
    clock[0] += int(refused["Retry-After"])
    # then filing works again
    assert file(api, 3).status_code == 201


def test_behind_a_proxy_the_forwarded_address_is_counted(world: World, rate_limits, settings):
    settings.RATE_LIMIT_PROXY_COUNT = 1
    api = APIClient()
    for n in range(2):
        file(api, n, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_refused(file(api, 2, HTTP_X_FORWARDED_FOR="198.51.100.7"))
    # a client cannot escape by forging the left part of the header: the proxy's entry counts
    assert_refused(file(api, 3, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"))
    assert file(api, 4, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 201


def test_redis_down_lets_citizens_file_and_logs_a_warning(world: World, rate_limits, settings, caplog):
    # given a limiter whose Redis cannot be reached
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    api = APIClient()
    with caplog.at_level(logging.WARNING, logger="concerto.ratelimit"):
        codes = [file(api, n).status_code for n in range(4)]
    # then every report is filed (fail open) and the failure is logged
    assert codes == [201] * 4
    assert any("rate limiter unavailable" in r.getMessage() for r in caplog.records)


def test_reading_is_never_limited(world: World, rate_limits):
    api = APIClient()
    assert {api.get("/api/signalements/").status_code for _ in range(5)} == {200}


# --- Support --------------------------------------------------------------------------------------


def test_support_past_the_limit_answers_429(world: World, rate_limits, settings):
    settings.RATE_LIMITS = {**rate_limits, "report_create": "100/h"}
    api = APIClient()
    references = [file(api, n).json()["reference"] for n in range(3)]
    for reference in references[:2]:
        assert api.post(f"/api/signalements/{reference}/support/", {}, format="json").status_code == 200
    assert_refused(api.post(f"/api/signalements/{references[2]}/support/", {}, format="json"))


# --- Open311 --------------------------------------------------------------------------------------


def test_open311_filing_past_the_limit_answers_429_in_the_spec_envelope(client, world: World, rate_limits):
    _, key = keys.api_client_create(name="Appli citoyenne")
    lon, lat = at(-500, 100)

    def post(n: int):  # type: ignore[no-untyped-def]
        body = {
            "api_key": key,
            "service_code": "nid-de-poule",
            "lat": lat,
            "long": lon,
            "description": f"n{n}",
        }
        return client.post("/open311/v2/requests.json", body)

    assert [post(n).status_code for n in range(2)] == [200, 200]
    response = post(2)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json() == [{"code": 429, "description": "Trop de requêtes : réessayez plus tard."}]
    # reading requests stays free
    assert client.get("/open311/v2/requests.json").status_code == 200
    # another application, from the same server, has its own counter (counted per API key)
    _, other = keys.api_client_create(name="Autre appli")
    body = {"api_key": other, "service_code": "nid-de-poule", "lat": lat, "long": lon, "description": "n9"}
    assert client.post("/open311/v2/requests.json", body).status_code == 200


def test_a_big_open311_body_is_still_refused_by_the_view(client, world: World, rate_limits, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/open311/v2/requests.json", {"api_key": "k", "description": "x" * 5000})
    assert response.status_code == 400
    assert "volumineuse" in response.json()[0]["description"]


# --- Sign-in --------------------------------------------------------------------------------------


def test_admin_sign_in_attempts_are_limited_per_address_and_per_username(client, world: World, rate_limits):
    def attempt(username: str, ip: str):  # type: ignore[no-untyped-def]
        return client.post("/admin/login/", {"username": username, "password": "faux"}, REMOTE_ADDR=ip)

    # given two failed attempts on one account from one address
    assert [attempt("responsable", "192.0.2.1").status_code for _ in range(2)] == [200, 200]
    # then the third from that address is refused, whatever the account
    assert_refused(attempt("autre", "192.0.2.1"))
    # and the account itself is protected from another address
    assert_refused(attempt("Responsable", "192.0.2.99"))
    # while another account from another address may still try
    assert attempt("agent-ouest", "192.0.2.50").status_code == 200
    # showing the sign-in page is not an attempt
    assert client.get("/admin/login/", REMOTE_ADDR="192.0.2.1").status_code == 200
