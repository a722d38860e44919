"""Settings shared by every profile, read from the environment.

The defaults are those of the local demo (`make run`): a PostGIS database on the machine's own
cluster and Redis on loopback. Production (`config.settings.production`) refuses these defaults
where they would be unsafe.
"""

import re
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.observability import logging_config
from config.storage import storages_from_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEFAULT_SECRET_KEY = "dev-only-insecure-concerto-secret-key"  # noqa: S105 - refused in production

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "[::1]", "testserver"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    ROUTING_AMBIGUITY_DISTANCE_M=(float, 15.0),
)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY", default=DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "leaflet",
    "geo",
    "signalements",
    "urbanisme",
    "tiles",
    "opendata",
    "privacy",
    "web",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "config.metrics.MetricsMiddleware",
    # Outermost after ids and metrics: a database outage anywhere below becomes a 503 + Retry-After.
    "config.availability.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "config.security.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostGIS only. jit and parallel workers are turned off for the application's connections:
# measured here, they turn 10 ms spatial queries into 30-45 ms ones (docs/ARCHITECTURE.md).
_DB_SCHEMES = {"postgis", "postgres", "postgresql", "pgsql"}
_DATABASE_URL = env("DATABASE_URL", default="postgis://postgres@127.0.0.1:5432/concerto")
if _DATABASE_URL.split("://", 1)[0] not in _DB_SCHEMES:
    raise ImproperlyConfigured("DATABASE_URL doit désigner une base PostgreSQL/PostGIS (postgis://…).")
# DATABASE_POOLER=transaction: the connections go through a transaction-mode pooler (PgBouncer of
# any version), where consecutive transactions of one Django connection may run on different
# server sessions. Nothing may then outlive a transaction: no named prepared statements (neither
# psycopg's automatic ones nor the router's explicit one), no server-side cursors for .iterator()
# (DECLARE ... WITH HOLD outside a transaction), and no `options` startup parameter, which
# PgBouncer refuses (set jit/max_parallel_workers_per_gather with ALTER ROLE/DATABASE instead).
DATABASE_POOLER = env("DATABASE_POOLER", default="").strip().lower()
if DATABASE_POOLER not in {"", "transaction"}:
    raise ImproperlyConfigured("DATABASE_POOLER accepte « transaction » ou une valeur vide.")


def _database(url: str) -> dict:
    # GeoDjango needs the PostGIS backend whatever the URL's scheme says.
    db = env.db_url_config(url, engine="django.contrib.gis.db.backends.postgis")
    db.setdefault("OPTIONS", {})
    if DATABASE_POOLER:
        db["OPTIONS"]["prepare_threshold"] = None
        db["DISABLE_SERVER_SIDE_CURSORS"] = True
    else:
        db["OPTIONS"].setdefault("options", "-c jit=off -c max_parallel_workers_per_gather=0")
        # Django's cursors bind parameters client-side and never prepare; this only lets the few
        # hot statements that ask for it (the router's) be planned once per connection.
        db["OPTIONS"].setdefault("prepare_threshold", 5)
    db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    db["CONN_HEALTH_CHECKS"] = True
    return db


DATABASES = {"default": _database(_DATABASE_URL)}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_concerto")}
# DATABASE_REPLICA_URL: an optional streaming standby for the public reads that tolerate a few
# seconds of lag (config/db_router.py says which). Absent, there is no alias and all goes to default.
_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if _REPLICA_URL:
    if _REPLICA_URL.split("://", 1)[0] not in _DB_SCHEMES:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL doit désigner une base PostgreSQL/PostGIS.")
    DATABASES["replica"] = _database(_REPLICA_URL)
    # A standby that does not answer must fail fast: the health probe runs on a request's thread
    # (`?connect_timeout=N` in the URL overrides).
    DATABASES["replica"]["OPTIONS"].setdefault("connect_timeout", 2)
    # Tests read the replica through the default connection (same data, no second test database).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# The replica is used only while reachable and at most this far behind (seconds), as judged by a
# probe at most every DATABASE_REPLICA_CHECK_SECONDS per process; otherwise the primary answers.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=30.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=5.0)
DATABASE_ROUTERS = ["config.db_router.PrimaryReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# French first, English second.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("Anglais"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
# Photo originals (with their EXIF) are kept apart from MEDIA_ROOT, which the web server serves.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private"))
# GeoTIFF layers (originals and COGs) are always files, even with S3: GDAL reads them by path.
# A volume shared by the web (tiles) and the media workers (conversion); see config/storage.py.
RASTER_ROOT = env.path("RASTER_ROOT", default=str(PRIVATE_MEDIA_ROOT))
# MEDIA_STORAGE=filesystem (default: MEDIA_ROOT served by nginx, PRIVATE_MEDIA_ROOT never served)
# or s3: a public-read bucket (AWS_STORAGE_BUCKET_NAME) and a separate private one
# (AWS_PRIVATE_STORAGE_BUCKET_NAME), with AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, optional AWS_S3_CUSTOM_DOMAIN (CDN), AWS_LOCATION, AWS_PUBLIC_ACL.
MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem").strip().lower()
STORAGES = storages_from_env(env)

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must never hold a citizen's request: if the broker is down, the outbox row is already
# committed and the beat sweeper sends it once the broker is back.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "geo.outbox_sweep",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=60.0),
    },
    # Photos whose processing task was lost (broker down at filing) are processed again.
    "photos-sweep": {"task": "signalements.photos_sweep", "schedule": 300.0},
    # Anonymised open data files under MEDIA_ROOT/opendata/, rewritten every night.
    "opendata-export": {
        "task": "opendata.export",
        "schedule": crontab(hour=3, minute=30),
    },
    # Concertation calendar notices (opening, three days left, closing); idempotent per phase.
    "urbanisme-phases": {"task": "urbanisme.phases_tick", "schedule": 300.0},
    # Raster layers whose conversion task was lost are converted again.
    "urbanisme-rasters-sweep": {"task": "urbanisme.rasters_sweep", "schedule": 600.0},
}

# Separate queues so that a burst of photo processing never delays notifications (deploy/production/).
CELERY_TASK_DEFAULT_QUEUE = "notifications"
CELERY_TASK_ROUTES = {
    "geo.outbox_deliver": {"queue": "notifications"},
    "geo.outbox_sweep": {"queue": "notifications"},
    "signalements.photo_process": {"queue": "media"},
    "signalements.photos_sweep": {"queue": "media"},
    "opendata.export": {"queue": "media"},  # batch work, beside photo processing
    "urbanisme.phases_tick": {"queue": "notifications"},
    # Imports and tile pre-rendering: long, CPU-heavy batch work that must not delay photos.
    "urbanisme.raster_to_cog": {"queue": "imports_tiles"},
    "urbanisme.rasters_sweep": {"queue": "imports_tiles"},
    "tiles.warm": {"queue": "imports_tiles"},
}

# E-mail (Django 6.1 MAILERS): the console in the demo, SMTP (or any backend) in production.
EMAIL_BACKEND_PATH = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
_MAILER_OPTIONS: dict = {}
if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    _MAILER_OPTIONS = {
        "host": env("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=25),
        "username": env("EMAIL_HOST_USER", default=""),
        "password": env("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=False),
        "timeout": 10,
    }
elif EMAIL_BACKEND_PATH.endswith("filebased.EmailBackend"):
    _MAILER_OPTIONS = {"file_path": env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))}
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _MAILER_OPTIONS}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Concerto <ne-pas-repondre@concerto.localhost>")
# Absolute links in e-mails (tracking links) start with this.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Outbox delivery: attempts, then exponential back-off from the base, capped.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_BACKOFF_BASE_SECONDS = env.float("OUTBOX_BACKOFF_BASE_SECONDS", default=30.0)
OUTBOX_BACKOFF_MAX_SECONDS = env.float("OUTBOX_BACKOFF_MAX_SECONDS", default=6 * 3600.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A delivery task is killed after OUTBOX_DELIVERY_TIME_LIMIT_SECONDS (a receiver trickling its answer
# defeats the per-read socket timeout); its claim on the row lasts OUTBOX_LEASE_SECONDS, after which
# the row is in doubt and sent again. The lease must outlast the time limit, or a slow but living
# delivery would be sent twice.
OUTBOX_DELIVERY_TIME_LIMIT_SECONDS = env.int("OUTBOX_DELIVERY_TIME_LIMIT_SECONDS", default=90)
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=120)
if OUTBOX_LEASE_SECONDS <= OUTBOX_DELIVERY_TIME_LIMIT_SECONDS:
    raise ImproperlyConfigured(
        "OUTBOX_LEASE_SECONDS doit dépasser OUTBOX_DELIVERY_TIME_LIMIT_SECONDS "
        "(sinon une livraison lente mais vivante serait envoyée deux fois)."
    )
CELERY_TASK_ANNOTATIONS = {"geo.outbox_deliver": {"time_limit": OUTBOX_DELIVERY_TIME_LIMIT_SECONDS}}

# The demo's staff accounts (admin, one agent per service) get this password, in DEBUG only.
DEMO_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="concerto-demo")

# Reports.
# Whether a report whose reporter gave an e-mail is public before that e-mail is confirmed.
REPORTS_PUBLISH_UNCONFIRMED = env.bool("REPORTS_PUBLISH_UNCONFIRMED", default=True)
REPORTS_NEARBY_RADIUS_M = env.float("REPORTS_NEARBY_RADIUS_M", default=30.0)
REPORTS_NEARBY_DAYS = env.int("REPORTS_NEARBY_DAYS", default=60)
REPORTS_MAX_PHOTOS = 5
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concerto API",
    "DESCRIPTION": "Signalements, routage et concertation des collectivités.",
    "VERSION": "0.1.0",
    # Swagger UI comes from npm, vendored into static/ (make vendor): no CDN at run time.
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": "/static/vendor/swagger-ui-dist/favicon-32x32.png",
    "COMPONENT_SPLIT_REQUEST": True,
}

# The basemap is the only third-party host a page may contact; its URL and attribution are settings.
BASEMAP_URL = env("BASEMAP_URL", default="https://tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png")
BASEMAP_ATTRIBUTION = env(
    "BASEMAP_ATTRIBUTION", default="© les contributeurs d’OpenStreetMap, fond OSM France"
)
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (48.8566, 2.3522),
    "DEFAULT_ZOOM": 12,
    "MIN_ZOOM": 3,
    "MAX_ZOOM": 19,
    "TILES": [("Plan", BASEMAP_URL, {"attribution": BASEMAP_ATTRIBUTION})],
    "RESET_VIEW": False,
}

# Routing: below this distance from the boundary of a zone of another service, a decision is
# flagged ambiguous so that the citizen confirms and staff can re-route.
ROUTING_AMBIGUITY_DISTANCE_M = env("ROUTING_AMBIGUITY_DISTANCE_M")
if ROUTING_AMBIGUITY_DISTANCE_M < 0:
    raise ImproperlyConfigured("ROUTING_AMBIGUITY_DISTANCE_M doit être positif ou nul.")

# Tiles (defaults and meaning in tiles/conf.py): the Redis tile cache is off unless a URL is given.
TILES_CACHE_URL = env("TILES_CACHE_URL", default=None)
TILES_STATEMENT_TIMEOUT_MS = env.int("TILES_STATEMENT_TIMEOUT_MS", default=5000)
TILES_MAX_AGE = env.int("TILES_MAX_AGE", default=60)
# Seconds between two published versions of a layer ("reports=30;zones=0"; absent layers: 0). The
# reports layer changes with every filing: its caches hit only if its version moves at most every 30 s.
TILES_VERSION_MIN_INTERVAL = env.dict(
    "TILES_VERSION_MIN_INTERVAL", cast={"value": int}, default={"reports": 30}
)
# Warming (tiles/warm.py): the territories' low-zoom tiles rendered into the Redis tile cache by the
# tiles.warm task (every 5 minutes, why in tiles/tasks.py) and `manage.py warm_tiles` after a deploy.
TILES_WARM_ZOOMS = env.list("TILES_WARM_ZOOMS", cast=int, default=[8, 9, 10, 11])
TILES_WARM_LAYERS = env.list("TILES_WARM_LAYERS", default=["reports", "zones", "territories"])
TILES_WARM_MAX_TILES = env.int("TILES_WARM_MAX_TILES", default=500)
TILES_WARM_SECONDS = env.float("TILES_WARM_SECONDS", default=240.0)
CELERY_BEAT_SCHEDULE["tiles-warm"] = {
    "task": "tiles.warm",
    "schedule": 300.0,
    # A warm still queued when the next is due is dropped (the worker was busy with an import).
    "options": {"expires": 240},
}

# Logs carry the request id (X-Request-ID from nginx, or a new one); JSON lines in production.
LOGGING = logging_config(env("LOG_LEVEL", default="INFO"), json=env.bool("LOG_JSON", default=False))
# /metrics (Prometheus): a bearer token when set.
METRICS_TOKEN = env("METRICS_TOKEN", default=None)

# GeoDjango warns that GDAL < 3.9 (Debian 12 ships 3.6) cannot block file and network access from
# malicious spatial references. Only administrators' import files reach GDAL through Django;
# docs/ARCHITECTURE.md lists this under "conventions twists".
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# --- Hardening ---
# Security headers (config/security.py) and rate limits (config/ratelimit.py); docs/SECURITY.md.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Rate limits: "<requests>/<window>", window in s, m, h or d with an optional multiple ("10/15m").
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    "report_create": env("RATE_LIMIT_REPORT_CREATE", default="20/h"),
    "support": env("RATE_LIMIT_SUPPORT", default="60/h"),
    "login": env("RATE_LIMIT_LOGIN", default="10/15m"),
    "open311_post": env("RATE_LIMIT_OPEN311_POST", default="60/h"),
    "contribution_create": env("RATE_LIMIT_CONTRIBUTION_CREATE", default="30/h"),
    "follow": env("RATE_LIMIT_FOLLOW", default="10/h"),
}
RATE_LIMIT_REDIS_URL = env("RATE_LIMIT_REDIS_URL", default=REDIS_URL)
# How many reverse proxies in front of Django append to X-Forwarded-For (0: trust REMOTE_ADDR only).
RATE_LIMIT_PROXY_COUNT = env.int("RATE_LIMIT_PROXY_COUNT", default=0)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["config.ratelimit.ScopedRateThrottle"]
for _scope, _spec in RATE_LIMITS.items():
    # The same grammar as config.ratelimit.parse_rate, checked at start-up.
    if not re.match(r"^\s*\d+\s*/\s*\d*\s*[smhd][a-z]*\s*$", _spec, re.IGNORECASE):
        raise ImproperlyConfigured(
            f"RATE_LIMITS[{_scope!r}] : « {_spec} » n'est pas une limite (exemples : 20/h, 10/15m)."
        )

# --- urbanisme ---
# Documents of a project file (PDF, images) and planning rasters (GeoTIFF, converted to COG).
URBANISME_DOCUMENT_MAX_BYTES = env.int("URBANISME_DOCUMENT_MAX_BYTES", default=30 * 1024 * 1024)
URBANISME_RASTER_MAX_BYTES = env.int("URBANISME_RASTER_MAX_BYTES", default=500 * 1024 * 1024)
URBANISME_VECTOR_MAX_BYTES = env.int("URBANISME_VECTOR_MAX_BYTES", default=100 * 1024 * 1024)
# The largest polygon a contribution may draw (m²): a neighbourhood, not a commune.
URBANISME_CONTRIBUTION_MAX_AREA_M2 = env.float("URBANISME_CONTRIBUTION_MAX_AREA_M2", default=5_000_000.0)
# Raster tiles of planning layers: tiles/ asks this function for a COG by name (`couche-<id>`),
# so that tiles never imports the domain.
TILES_RASTER_LOOKUP = "urbanisme.rasters.raster_tile_lookup"

# --- privacy (RGPD) ---
# Retention of personal data (privacy/retention.py, docs/PRIVACY.md), applied every night by the
# `privacy.retention` beat task and by `manage.py apply_retention [--dry-run]`. Periods in days;
# an empty value or "off" turns that step off.


def _retention_days(name: str, default: int) -> int | None:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"", "off", "none"}:
        return None
    if not raw.isdigit():
        raise ImproperlyConfigured(f"{name} : « {raw} » n'est pas un nombre de jours (ou « off »).")
    return int(raw)


# Reporters' contacts (name, e-mail, phone), counted from the ticket's closing (résolu, rejeté, doublon).
RETENTION_REPORT_CONTACT_DAYS = _retention_days("RETENTION_REPORT_CONTACT_DAYS", 365)
# Followers of closed reports and archived projects (and unsubscribed followers), after this many days.
RETENTION_FOLLOWERS_DAYS = _retention_days("RETENTION_FOLLOWERS_DAYS", 90)
# Project followers who never confirmed their address (double opt-in).
RETENTION_UNCONFIRMED_FOLLOWERS_DAYS = _retention_days("RETENTION_UNCONFIRMED_FOLLOWERS_DAYS", 30)
# Private originals of report photos (EXIF: GPS, camera), once the served copies exist.
RETENTION_PHOTO_ORIGINALS_DAYS = _retention_days("RETENTION_PHOTO_ORIGINALS_DAYS", 30)
# Private originals of contribution photos, once the served copy exists.
RETENTION_CONTRIBUTION_PHOTO_ORIGINALS_DAYS = _retention_days(
    "RETENTION_CONTRIBUTION_PHOTO_ORIGINALS_DAYS", 30
)
# Contributors' names and e-mails, after the bilan is published (or the project archived).
RETENTION_CONTRIBUTION_AUTHORS_DAYS = _retention_days("RETENTION_CONTRIBUTION_AUTHORS_DAYS", 180)
# Sent or abandoned notifications: addresses, bodies and payloads blanked after this many days.
RETENTION_OUTBOX_DAYS = _retention_days("RETENTION_OUTBOX_DAYS", 90)
# The staff access log and the anonymous trace of citizens' requests.
RETENTION_ACCESS_LOG_DAYS = _retention_days("RETENTION_ACCESS_LOG_DAYS", 365)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=500)
if RETENTION_BATCH_SIZE < 1:
    raise ImproperlyConfigured("RETENTION_BATCH_SIZE doit être un entier positif.")
# The e-mailed link of « Mes données » (/mes-donnees/): how long it opens the export and erasure.
PRIVACY_LINK_MAX_AGE_SECONDS = env.int("PRIVACY_LINK_MAX_AGE_SECONDS", default=24 * 3600)
RATE_LIMITS["privacy_request"] = env("RATE_LIMIT_PRIVACY_REQUEST", default="5/h")
if not re.match(r"^\s*\d+\s*/\s*\d*\s*[smhd][a-z]*\s*$", RATE_LIMITS["privacy_request"], re.IGNORECASE):
    raise ImproperlyConfigured("RATE_LIMIT_PRIVACY_REQUEST n'est pas une limite (exemples : 5/h, 3/15m).")
CELERY_BEAT_SCHEDULE["privacy-retention"] = {
    "task": "privacy.retention",
    "schedule": crontab(hour=4, minute=15),
}
# Served images (report photos, contribution photos, covers, document images) re-checked for EXIF.
CELERY_BEAT_SCHEDULE["privacy-served-images"] = {
    "task": "privacy.served_images_audit",
    "schedule": crontab(hour=4, minute=45),
}
CELERY_TASK_ROUTES["privacy.retention"] = {"queue": "media"}
CELERY_TASK_ROUTES["privacy.served_images_audit"] = {"queue": "media"}
# Sign-in lockout (config/lockout.py): after LOGIN_LOCKOUT_ATTEMPTS failures on one username (or
# LOGIN_LOCKOUT_IP_ATTEMPTS from one address) within LOGIN_LOCKOUT_SECONDS, refused for that long.
# Active when RATE_LIMITS_ENABLED is too (the switch of every Redis abuse counter).
LOGIN_LOCKOUT_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
LOGIN_LOCKOUT_ATTEMPTS = env.int("LOGIN_LOCKOUT_ATTEMPTS", default=5)
LOGIN_LOCKOUT_IP_ATTEMPTS = env.int("LOGIN_LOCKOUT_IP_ATTEMPTS", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
LOGIN_LOCKOUT_REDIS_URL = env("LOGIN_LOCKOUT_REDIS_URL", default=None)  # None: the rate limiter's Redis
if min(LOGIN_LOCKOUT_ATTEMPTS, LOGIN_LOCKOUT_IP_ATTEMPTS, LOGIN_LOCKOUT_SECONDS) < 1:
    raise ImproperlyConfigured("LOGIN_LOCKOUT_ATTEMPTS, _IP_ATTEMPTS et _SECONDS doivent être positifs.")
AUTHENTICATION_BACKENDS = ["config.lockout.LockoutModelBackend"]
MIDDLEWARE = [
    *MIDDLEWARE,
    # The lock's message on the sign-in pages (admin and /connexion/), without changing them.
    "config.lockout.LoginLockoutMiddleware",
    # Admin pages that show citizens' personal data are written to the access log (geo.access_log).
    "privacy.middleware.AdminPersonalDataAccessMiddleware",
]

# --- pages (web/) ---
# Staff sign in on the site's own page (/connexion/) and land on their queue.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:queue"
LOGOUT_REDIRECT_URL = "web:home"
# Address search of the filing page, called by the server only (the browser never contacts it):
# a geocoder answering like the Base Adresse Nationale (`https://api-adresse.data.gouv.fr/search/`,
# GeoJSON features with a `label`). Empty: off; the page then offers places and coordinates.
GEOCODER_URL = env("GEOCODER_URL", default="")
GEOCODER_TIMEOUT_SECONDS = env.float("GEOCODER_TIMEOUT_SECONDS", default=3.0)
if GEOCODER_URL and not GEOCODER_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("GEOCODER_URL doit être une URL http(s) ou rester vide.")
# The « Itinéraire » link of ticket pages: a plain link (the page itself requests nothing from it).
DIRECTIONS_URL = env(
    "DIRECTIONS_URL", default="https://www.openstreetmap.org/directions?route=%3B{lat}%2C{lon}"
)
if "{lat}" not in DIRECTIONS_URL or "{lon}" not in DIRECTIONS_URL:
    raise ImproperlyConfigured("DIRECTIONS_URL doit contenir {lat} et {lon}.")
# Address searches per visitor (the server relays them to GEOCODER_URL: not an open proxy).
RATE_LIMITS["address_search"] = env("RATE_LIMIT_ADDRESS_SEARCH", default="60/h")
if not re.match(r"^\s*\d+\s*/\s*\d*\s*[smhd][a-z]*\s*$", RATE_LIMITS["address_search"], re.IGNORECASE):
    raise ImproperlyConfigured("RATE_LIMIT_ADDRESS_SEARCH n'est pas une limite (exemples : 60/h, 10/m).")
