import pytest

OBSERVABILITY_MIDDLEWARE = ["config.observability.RequestIdMiddleware", "config.metrics.MetricsMiddleware"]


@pytest.fixture(autouse=True)
def _observability(settings) -> None:  # type: ignore[no-untyped-def]
    """What config/settings and config/urls will hold: both middleware first, ``/metrics`` routed."""
    settings.ROOT_URLCONF = "tests.observability.urls"
    settings.MIDDLEWARE = OBSERVABILITY_MIDDLEWARE + [
        m for m in settings.MIDDLEWARE if m not in OBSERVABILITY_MIDDLEWARE
    ]
    settings.METRICS_TOKEN = None
