"""Fixtures of the page tests: the signalements test town, media in a temporary folder, a closed
broker (nothing is queued anywhere), and for browser tests Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from signalements.models import ResponseTemplate
from signalements.services import ContactInput, report_create
from tests.signalements.world import World, at
from tests.signalements.world import world as world

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls when a loop is
# running unless told this thread is not serving async code (it is not: the live server has its own).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"
BLANK_BASEMAP = "/static/web/img/blank-tile.png"
PERSONAL = ContactInput(
    name="Jeanne Martin",
    email="jeanne.martin@example.net",
    phone="+33 6 12 34 56 78",
    consent_to_contact=True,
)
PERSONAL_TEXTS = ("Jeanne", "Martin", "jeanne.martin", "+33612345678", "612345678", "12 34 56 78")


@pytest.fixture(autouse=True)
def _pages_settings(settings: Any, tmp_path: Any) -> Iterator[None]:
    """A local blank basemap (no third-party host), media under tmp, and a broker that refuses at once."""
    from config.celery import app

    settings.BASEMAP_URL = BLANK_BASEMAP
    settings.BASEMAP_ATTRIBUTION = "Fond blanc de test"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.GEOCODER_URL = ""
    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = CLOSED_BROKER_URL
    app.conf.broker_url = CLOSED_BROKER_URL
    # Unset, the write URL follows broker_url; reading it would copy the resolved value and pin it.
    app.conf.broker_write_url = None
    yield
    app.conf.broker_url = previous
    app.conf.broker_write_url = None


def file_report(
    world: World, east_m: float = -500, north_m: float = 100, *, category: str = "nid-de-poule", **kwargs: Any
):  # type: ignore[no-untyped-def]
    lon, lat = at(east_m, north_m)
    kwargs.setdefault("description", "Un trou profond devant l'école")
    return report_create(category=category, lon=lon, lat=lat, **kwargs)


@pytest.fixture
def templates(world: World) -> list[ResponseTemplate]:
    return [
        ResponseTemplate.objects.create(
            title="Intervention programmée", text="Une équipe interviendra cette semaine."
        ),
        ResponseTemplate.objects.create(
            title="Réparé",
            text="La chaussée a été réparée. Merci de votre signalement.",
            category=world.voirie,
            organisation=world.organisation,
        ),
    ]


# --- browser tests ----------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


class Browser:
    """One chromium per test, with a fresh user-data dir; every request it makes is recorded."""

    def __init__(self, driver: Any, profile: Any, base_url: str, **options: Any) -> None:
        options.setdefault("locale", "fr-FR")
        options.setdefault("timezone_id", "Europe/Paris")
        self.context = driver.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            base_url=base_url,
            **options,
        )
        self.context.set_default_timeout(10_000)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def foreign_requests(self, base_url: str) -> list[str]:
        from urllib.parse import urlsplit

        origin = urlsplit(base_url).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in {"data", "blob", "about"} and urlsplit(url).netloc != origin
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_browser(playwright_driver: Any, live_server: Any, tmp_path: Any) -> Iterator[Any]:
    """``open_browser(**context_options)``: a browser on the live server; checks at the end that no
    request left for another host and that no script error happened."""
    opened: list[Browser] = []

    def open_(**options: Any) -> Browser:
        browser = Browser(playwright_driver, tmp_path / f"profile-{len(opened)}", live_server.url, **options)
        opened.append(browser)
        return browser

    yield open_
    for browser in opened:
        foreign = browser.foreign_requests(live_server.url)
        errors = list(browser.errors)
        browser.close()
        assert not foreign, f"requests to other hosts: {foreign}"
        assert not errors, f"script errors: {errors}"


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Any) -> None:
    """axe-core (vendored from npm) on the page as it is: no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in bad
    ]
    assert not bad, f"{page.url}: " + "\n".join(details)
