"""Fixtures of the privacy tests: both worlds (a town with reports, a concertation), the outbox
helpers, private media in a temporary directory, and a Redis database of their own (10) for the
sign-in lockout and the rate limit of « Mes données »."""

from __future__ import annotations

import pytest
import redis

from tests.geo.outbox_support import locmem_email as locmem_email
from tests.geo.outbox_support import published as published
from tests.signalements.world import world as world
from tests.urbanisme.world import concertation as concertation

PRIVACY_TEST_REDIS = "redis://127.0.0.1:6379/10"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


@pytest.fixture
def privacy_redis() -> redis.Redis:
    client = redis.Redis.from_url(PRIVACY_TEST_REDIS)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def lockout(settings, privacy_redis):  # type: ignore[no-untyped-def]
    """The lockout on (the test profile turns the Redis counters off), on the dedicated database.

    Rate limits are switched on with it (the lockout follows RATE_LIMITS_ENABLED); the sign-in rate
    limit is set high so that only the lockout refuses.
    """
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMIT_REDIS_URL = PRIVACY_TEST_REDIS
    settings.LOGIN_LOCKOUT_REDIS_URL = None
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1000/15m"}
    settings.LOGIN_LOCKOUT_ENABLED = True
    settings.LOGIN_LOCKOUT_ATTEMPTS = 5
    settings.LOGIN_LOCKOUT_IP_ATTEMPTS = 20
    settings.LOGIN_LOCKOUT_SECONDS = 900
    return privacy_redis
