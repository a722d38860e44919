# Two commands matter: `make run` (set up and start the demo) and `make test` (set up and test).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test setup system venv db migrate demo messages lint format lock bench bench-tiles vendor clean-venv image-check

run: setup demo ## Set everything up, load the demo territory and start web + worker + beat
	deploy/run-local.sh

test: SYSTEM_FLAGS := --browser
test: setup ## Set everything up and run the whole test suite on real PostGIS (pages in Debian's chromium)
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

setup: system venv db messages migrate

system:
	deploy/install-system.sh $(SYSTEM_FLAGS)

# The virtualenv is rebuilt only when the lock file changes.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements/lock.txt
	@test -x $(PY) || "$$(deploy/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements/lock.txt 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	touch $@

db:
	deploy/setup-db.sh

messages: venv
	$(PY) manage.py compilemessages --ignore=.venv -v 0

migrate: venv db
	$(PY) manage.py migrate --noinput -v 0

demo: migrate
	$(PY) manage.py load_demo
	$(PY) manage.py load_demo_concertation

# Typed core: the rules (routing, workflow) and the write/read functions.
TYPED := geo/srid.py geo/text.py geo/errors.py geo/routing.py geo/coverage.py geo/outbox.py geo/images.py signalements/workflow.py \
	signalements/services.py signalements/selectors.py signalements/permissions.py signalements/open311 tiles opendata \
	geo/shapes.py urbanisme/phases.py urbanisme/services.py urbanisme/selectors.py urbanisme/permissions.py \
	urbanisme/layers.py urbanisme/rasters.py urbanisme/bilan.py config/db_router.py config/storage.py config/storage_s3.py \
	config/security.py config/health.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/mypy $(TYPED)

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Re-lock after editing pyproject.toml's dependencies.
lock:
	$(PY) -m pip install -q pip-tools
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --extra dev -o requirements/lock.txt pyproject.toml
	# The image's lock: no dev extra, the same versions as lock.txt (tests/deploy/test_dockerfile.py).
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe -c requirements/lock.txt \
		-o requirements/runtime.txt pyproject.toml

# Benchmarks use their own database, never the demo's.
BENCH_DATABASE_URL ?= postgis://postgres@127.0.0.1:5432/concerto_bench
# Front-end packages from npm, copied into static/vendor/ (committed; running never needs npm).
vendor:
	deploy/vendor-static.sh

bench: system venv
	DATABASE_URL=$(BENCH_DATABASE_URL) deploy/setup-db.sh
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/routing.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/intake.py

# Vector and raster tiles over 1,000,000 reports (own database, about 3 minutes).
bench-tiles: system venv
	$(PY) bench/tiles.py

# Redis tile cache hit rate on `reports` under steady filing, TILES_VERSION_MIN_INTERVAL 0 vs 30
# (own database, 20,000 reports, about 2 minutes). Figures: docs/SCALING.md §4.1.
.PHONY: bench-tiles-quantisation
bench-tiles-quantisation: system venv
	BENCH_REPORTS=20000 BENCH_WORKERS=2 \
		BENCH_TILES_DATABASE_URL=postgis://postgres@127.0.0.1:5432/concerto_bench_q $(PY) bench/tiles.py --quantisation

# The application image (Dockerfile) built without Docker (buildah, debootstrapped Debian 13 base) and
# run against the local PostgreSQL/Redis: GDAL stacks, check --deploy, migrate, gunicorn /healthz, a
# Celery ping. Root. About 10 minutes the first time, 1 minute when cached. Not part of `make test`.
image-check: db
	deploy/production/image-check.sh

# Faults and load on loopback (tests/resilience, about 3 minutes): 50 clients for
# RESILIENCE_LOAD_SECONDS (60), broker outage, worker SIGKILL, then a PostgreSQL cluster restart
# (disconnects every client of the cluster). Not part of `make test`. Figures: docs/RELIABILITY.md.
.PHONY: test-resilience
test-resilience: setup
	RESILIENCE=1 DJANGO_SETTINGS_MODULE=config.settings.test TEST_DATABASE_NAME=test_concerto_resil \
		$(VENV)/bin/pytest -p no:cacheprovider -s tests/resilience $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# Production artefacts (deploy/production/) checked for real: nginx -t, systemd-analyze verify,
# Compose and Kubernetes JSON schemas, gunicorn serving /healthz, backup.sh + restore.sh round trip.
# These tests also run in `make test`; this target only adds nginx (apt) when it is missing.
.PHONY: deploy-check
deploy-check: setup
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		echo "==> apt: nginx-light"; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }
	DJANGO_SETTINGS_MODULE=config.settings.test TEST_DATABASE_NAME=test_concerto_deploy $(VENV)/bin/pytest tests/deploy $(PYTEST_ARGS)
