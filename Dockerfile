# Concerto application image: web (gunicorn), Celery workers, beat and the migration job all run
# this one image; only the command changes (deploy/production/compose.yaml, deploy/production/k8s/).
#
# Build (from the repository root; the tags are the ones compose.yaml and k8s/ use):
#   docker build -t concerto:latest -t registry.example.fr/concerto:1.0.0 .
#   docker push registry.example.fr/concerto:1.0.0
# Without Docker (Debian 12 buildah; --format docker keeps the HEALTHCHECK, which OCI images drop):
#   buildah bud --format docker -t concerto:latest -t registry.example.fr/concerto:1.0.0 .
# Checked by tests/deploy/test_dockerfile.py; built and run for real by deploy/production/image-check.sh.
#
# Base: Debian 13 (trixie). Its python3 is 3.13; Debian 12's is 3.11, and Django 6 needs Python >= 3.12
# (docs/adr/0001-python-version.md), so a bookworm base stops at the version check below.
# GDAL/GEOS/PROJ come from Debian (gdal-bin, as deploy/install-system.sh installs), loaded by GeoDjango
# through ctypes. rasterio, shapely and pyproj wheels carry their own GDAL/GEOS/PROJ with renamed
# sonames and their own data directories: never set PROJ_DATA/PROJ_LIB/GDAL_DATA globally here, or
# one PROJ would read the other's proj.db.
ARG BASE_IMAGE=debian:trixie-slim

# ---------------------------------------------------------------------------------------------------
# build: the virtualenv from the lock (hashes checked), compiled messages, collected static files,
# byte-compiled code. gettext (msgfmt) stays in this stage.
FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv gdal-bin gettext ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 12) else f"Django 6 needs Python >= 3.12; this base image has {v.major}.{v.minor} (docs/adr/0001-python-version.md)")'

WORKDIR /opt/concerto
# The runtime lock (requirements/runtime.txt: the project's dependencies without the dev extra,
# pinned to the same versions as requirements/lock.txt by `make lock`) carries every hash:
# --require-hashes refuses anything else. Its --find-links and file://
# index lines point at a CI machine's local mirrors; pip only warns that they are absent here.
# Behind a TLS-intercepting proxy only: the path of a CA bundle that the builder mounts for the build
# (buildah bud -v host.crt:/run/build-ca.crt:ro --build-arg PIP_CERT=/run/build-ca.crt). Not copied.
ARG PIP_CERT=""
COPY requirements/runtime.txt requirements/runtime.txt
RUN python3 -m venv .venv \
    && .venv/bin/pip install ${PIP_CERT:+--cert "$PIP_CERT"} --require-hashes --only-binary=:all: \
        -r requirements/runtime.txt \
    && .venv/bin/pip check

COPY manage.py ./
COPY deploy/production/gunicorn.conf.py deploy/production/gunicorn.conf.py
COPY config config
COPY geo geo
COPY signalements signalements
COPY urbanisme urbanisme
COPY tiles tiles
COPY opendata opendata
COPY privacy privacy
COPY web web
COPY locale locale
# Front-end packages are vendored from npm into static/vendor/ and committed (make vendor): no node here.
COPY static static

# Base settings: no secret is needed (production refuses to start without one) and none is baked in.
RUN DJANGO_SETTINGS_MODULE=config.settings.base STATIC_ROOT=/var/lib/concerto/static \
        .venv/bin/python manage.py compilemessages --ignore=.venv -v 0 \
    && DJANGO_SETTINGS_MODULE=config.settings.base STATIC_ROOT=/var/lib/concerto/static \
        .venv/bin/python manage.py collectstatic --noinput -v 0 \
    && .venv/bin/python -m compileall -q config geo signalements urbanisme tiles opendata privacy web \
        deploy/production/gunicorn.conf.py

# ---------------------------------------------------------------------------------------------------
# runtime: Python, the Debian GDAL stack, the virtualenv and the code; root owns the code (read-only
# for the service), uid 10001 owns /var/lib/concerto (static, media, private, celery).
FROM ${BASE_IMAGE} AS runtime
# ARG, not ENV: only for this build, not in the running containers.
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 gdal-bin ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 concerto \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/concerto --no-create-home \
        --shell /usr/sbin/nologin concerto \
    && install -d -o 10001 -g 10001 -m 0755 /var/lib/concerto /var/lib/concerto/static /var/lib/concerto/media \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/concerto/private /var/lib/concerto/celery

COPY --from=build /opt/concerto /opt/concerto
COPY --from=build --chown=10001:10001 /var/lib/concerto/static /var/lib/concerto/static

ENV PATH=/opt/concerto/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/var/lib/concerto/static \
    MEDIA_ROOT=/var/lib/concerto/media \
    PRIVATE_MEDIA_ROOT=/var/lib/concerto/private \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /opt/concerto
USER 10001:10001
EXPOSE 8000

# /healthz goes through Django: a Host from ALLOWED_HOSTS and X-Forwarded-Proto (SECURE_SSL_REDIRECT).
# Only meaningful for the web command; compose gives every service its own healthcheck, and
# Kubernetes ignores this one (probes in k8s/).
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/opt/concerto/.venv/bin/python", "-c", "import os,urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0], 'X-Forwarded-Proto': 'https'}), timeout=5)"]

# No ENTRYPOINT: compose's `command:` and Kubernetes' `command:` replace this whole line.
CMD ["/opt/concerto/.venv/bin/gunicorn", "-c", "/opt/concerto/deploy/production/gunicorn.conf.py", "config.wsgi"]
