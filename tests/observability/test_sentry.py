import sentry_sdk

from config.observability import init_sentry, scrub_event


def test_without_a_dsn_nothing_starts() -> None:
    assert init_sentry(None, "production", None) is False
    assert init_sentry("", "production", "1.0") is False
    assert not sentry_sdk.is_initialized()


def test_events_lose_bodies_cookies_credentials_and_user() -> None:
    event = {
        "request": {
            "url": "https://concerto.example.fr/api/signalements/",
            "method": "POST",
            "data": {"contact": {"email": "jeanne@example.org"}},
            "cookies": {"sessionid": "abc"},
            "query_string": "email=jeanne@example.org",
            "headers": {"Cookie": "sessionid=abc", "Authorization": "Basic eA==", "User-Agent": "x"},
        },
        "user": {"ip_address": "203.0.113.9"},
    }
    scrubbed = scrub_event(event, {})
    assert scrubbed["request"] == {
        "url": "https://concerto.example.fr/api/signalements/",
        "method": "POST",
        "headers": {"User-Agent": "x"},
    }
    assert "user" not in scrubbed


def test_with_a_dsn_no_personal_data_is_sent() -> None:
    try:
        assert init_sentry("http://public@127.0.0.1:9/1", "test", "abc123") is True
        options = sentry_sdk.get_client().options
        assert options["send_default_pii"] is False
        assert options["before_send"] is scrub_event
        assert options["max_request_body_size"] == "never"
        assert options["environment"] == "test"
    finally:
        sentry_sdk.get_client().close(timeout=0)
        sentry_sdk.init(dsn=None)
