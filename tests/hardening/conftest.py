"""Fixtures of the hardening tests: a Redis database of their own for the rate limiter."""

from __future__ import annotations

import pytest
import redis

# A database no other test or service uses; flushed before and after each test that enables limits.
RATE_LIMIT_TEST_REDIS = "redis://127.0.0.1:6379/13"


@pytest.fixture
def limiter_redis() -> redis.Redis:
    client = redis.Redis.from_url(RATE_LIMIT_TEST_REDIS)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def rate_limits(settings, limiter_redis):  # type: ignore[no-untyped-def]
    """Rate limits on (the test profile turns them off), small, on the dedicated Redis database."""
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMIT_REDIS_URL = RATE_LIMIT_TEST_REDIS
    settings.RATE_LIMIT_PROXY_COUNT = 0
    settings.RATE_LIMITS = {
        "report_create": "2/h",
        "support": "2/h",
        "login": "2/15m",
        "open311_post": "2/h",
    }
    return settings.RATE_LIMITS
