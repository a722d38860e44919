"""Production refuses the demo's unsafe defaults; the base profile validates the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_settings(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Import a settings module in a fresh interpreter, with only the given variables set."""
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_default_secret():
    result = load_settings("config.settings.production")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY doit être définie en production" in result.stderr


def test_production_refuses_debug():
    result = load_settings("config.settings.production", SECRET_KEY="x" * 50, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG doit être désactivé en production" in result.stderr


def test_production_starts_with_a_real_secret():
    result = load_settings("config.settings.production", SECRET_KEY="k3y-" * 12)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_non_postgres_database_url_is_refused():
    result = load_settings("config.settings.test", DATABASE_URL="mysql://root@127.0.0.1/concerto")
    assert result.returncode != 0
    assert "PostgreSQL/PostGIS" in result.stderr


def test_a_postgres_url_gets_the_postgis_engine():
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "django.contrib.gis.db.backends.postgis", result.stderr
