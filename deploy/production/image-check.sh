#!/usr/bin/env bash
# Builds the application image (Dockerfile) without Docker and runs it against this machine's
# PostgreSQL and Redis: buildah with chroot isolation (no daemon, no registry), overlay or vfs storage.
#   1. base image: debian:<release>-slim is not pulled (registries may be unreachable) but made with
#      debootstrap --variant=minbase from the Debian mirror, once (then cached);
#   2. buildah bud --layers (cached layers: a rebuild after a code change redoes only the last steps);
#   3. in a container of the image, as its user: Python and GeoDjango/GDAL/GEOS/PROJ (Debian's) next to
#      rasterio/pyproj (their wheels'), the same coordinate transformation through both; static files
#      and compiled messages present; `manage.py check --deploy` with the production settings; the
#      migrations on a throw-away database; gunicorn started with the image's CMD answering /healthz
#      from the host, and the image's HEALTHCHECK command passing; a Celery worker answering a ping.
# Usage (root, Debian 12 or 13): deploy/production/image-check.sh   (make image-check)
# Environment: BASE_RELEASE (trixie), IMAGE (localhost/concerto:check), IMAGE_CHECK_PORT (18000),
# IMAGE_CHECK_STORE (/var/lib/concerto-image-check), ADMIN_DATABASE_URL
# (postgresql://postgres@127.0.0.1:5432/postgres; the database concerto_image_check is created and
# dropped), IMAGE_CHECK_REDIS_URL (redis://127.0.0.1:6379/15), BUILD_CA (a CA bundle for a TLS-intercepting proxy; found by itself when
# /usr/local/share/ca-certificates holds one), IMAGE_CHECK_CLEAN=1 (then empty the image store: every
# rebuild after a code change adds a ~1 GB layer there, kept as cache).
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE_RELEASE=${BASE_RELEASE:-trixie}
BASE_IMAGE="localhost/debian:${BASE_RELEASE}-slim"
IMAGE=${IMAGE:-localhost/concerto:check}
PORT=${IMAGE_CHECK_PORT:-18000}
ADMIN_URL=${ADMIN_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
DB_NAME=concerto_image_check
DB_URL="postgis://${ADMIN_URL#*://}"; DB_URL="${DB_URL%/*}/${DB_NAME}"
REDIS_URL=${IMAGE_CHECK_REDIS_URL:-redis://127.0.0.1:6379/15}
HOST=concerto.example.fr
export PGOPTIONS="--client-min-messages=warning"
# Its own image store (so nothing here mixes with another use of buildah/podman on the machine):
# overlay where the kernel has it (fast layers), else vfs (works anywhere, copies every layer).
STORE=${IMAGE_CHECK_STORE:-/var/lib/concerto-image-check}
driver=vfs
grep -qw overlay /proc/filesystems && driver=overlay
B=(buildah --root "$STORE/$driver" --runroot "/run/concerto-image-check/$driver" --storage-driver "$driver")
WORK=$(mktemp -d /tmp/concerto-image-check.XXXXXX)
chmod 0777 "$WORK"   # the container's user writes its pid files here
ctr=""

log() { printf '==> [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
# Stops the process whose pid file the container wrote, after checking that it is the one started here.
stopped() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "/opt/concerto/.venv/bin/\(gunicorn\|celery\)"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$1"
}
cleanup() {
  stopped "$WORK/gunicorn.pid"
  stopped "$WORK/celery.pid"
  if [ -n "$ctr" ]; then "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  # The store is this script's own: emptying it only costs the next run its cache.
  if [ "${IMAGE_CHECK_CLEAN:-0}" = 1 ]; then "${B[@]}" rmi --all --force >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# --- tools ---------------------------------------------------------------------------------------
missing=()
for tool in buildah debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 1. base image -------------------------------------------------------------------------------
if ! "${B[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base image $BASE_IMAGE: debootstrap --variant=minbase $BASE_RELEASE"
  started=$(date +%s)
  debootstrap --variant=minbase "$BASE_RELEASE" "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  # As in the official slim images: no package lists nor downloaded .debs.
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/archives/"*.deb
  tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
  rm -rf "$WORK/rootfs"
  base=$("${B[@]}" from scratch)
  "${B[@]}" add "$base" "$WORK/rootfs.tar" / >/dev/null
  "${B[@]}" config --cmd bash "$base"
  "${B[@]}" commit -q --rm "$base" "$BASE_IMAGE" >/dev/null
  rm -f "$WORK/rootfs.tar"
  log "base image built in $(( $(date +%s) - started )) s"
fi

# --- 2. build ------------------------------------------------------------------------------------
ca=${BUILD_CA:-}
if [ -z "$ca" ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  ca=/etc/ssl/certs/ca-certificates.crt   # this machine trusts a local CA (TLS interception): so must pip
fi
ca_args=()
[ -n "$ca" ] && ca_args=(-v "$ca:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt)
log "build $IMAGE from $BASE_IMAGE"
started=$(date +%s)
nice -n 10 "${B[@]}" bud --isolation chroot --layers --format docker --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  "${ca_args[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
build_seconds=$(( $(date +%s) - started ))
size=$("${B[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)
log "built in ${build_seconds} s ($(grep -c 'Using cache' "$WORK/build.log" || true) cached steps), image size ${size}"

# The image's own configuration, as a runtime reads it.
"${B[@]}" inspect --type image "$IMAGE" >"$WORK/inspect.json"
python3 - "$WORK/inspect.json" "$PORT" >"$WORK/healthcheck.cmd" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))["Docker"]["config"]
assert config["User"] == "10001:10001", config["User"]
assert config["Cmd"][0] == "/opt/concerto/.venv/bin/gunicorn", config["Cmd"]
assert "8000/tcp" in config["ExposedPorts"], config["ExposedPorts"]
test = config["Healthcheck"]["Test"]
assert test[0] == "CMD", test
env = dict(e.split("=", 1) for e in config["Env"])
assert not [k for k in env if "SECRET" in k or "PASSWORD" in k], env
print("\0".join(arg.replace("127.0.0.1:8000", f"127.0.0.1:{sys.argv[2]}") for arg in test[1:]))
EOF

# --- 3. run --------------------------------------------------------------------------------------
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null
psql -q "$ADMIN_URL" -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
psql -q "${ADMIN_URL%/*}/$DB_NAME" -c "CREATE EXTENSION postgis" >/dev/null

ctr=$("${B[@]}" from --pull=never "$IMAGE")
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
# The container shares the host's network (chroot isolation): 127.0.0.1 is this machine's.
run=("${B[@]}" run --isolation chroot -v "$WORK:/run/check"
  --env "SECRET_KEY=$secret" --env "ALLOWED_HOSTS=$HOST" --env "CSRF_TRUSTED_ORIGINS=https://$HOST"
  --env "PUBLIC_BASE_URL=https://$HOST" --env "DATABASE_URL=$DB_URL" --env "REDIS_URL=$REDIS_URL"
  --env "TILES_CACHE_URL=$REDIS_URL" --env "GUNICORN_BIND=127.0.0.1:$PORT" --env "GUNICORN_WORKERS=2"
  --env "EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend" --env "EMAIL_HOST=smtp.example.fr"
  --env "HOME=/var/lib/concerto" "$ctr" --)

log "imports and the two GDAL/PROJ stacks"
"${run[@]}" python - <<'EOF'
import os
import sys

import django
import pyproj
import rasterio
import rasterio.warp
from django.contrib.gis.gdal import gdal_version
from django.contrib.gis.geos import Point, geos_version

assert os.getuid() == 10001, os.getuid()
assert sys.version_info >= (3, 12), sys.version
x, y = 2.3522, 48.8566  # Paris, to Lambert-93: GeoDjango (Debian's GDAL/PROJ) and rasterio (its wheel's)
point = Point(x, y, srid=4326).transform(2154, clone=True)
(rx,), (ry,) = rasterio.warp.transform("EPSG:4326", "EPSG:2154", [x], [y])
assert abs(point.x - rx) < 0.01 and abs(point.y - ry) < 0.01, (point.coords, rx, ry)
print(
    f"Python {sys.version.split()[0]}, Django {django.get_version()}; GeoDjango: GDAL {gdal_version().decode()}, "
    f"GEOS {geos_version().decode()} (Debian); rasterio {rasterio.__version__} with GDAL {rasterio.__gdal_version__}, "
    f"pyproj {pyproj.__version__} with PROJ {pyproj.proj_version_str} (wheels); "
    f"EPSG:2154 ({rx:.2f}, {ry:.2f}) through both"
)
EOF

log "static files, messages, ownership"
# shellcheck disable=SC2016  # expanded by the container's shell
"${run[@]}" sh -ec '
  test -f /var/lib/concerto/static/admin/css/base.css
  test -f /var/lib/concerto/static/vendor/leaflet/leaflet.js
  test -f /opt/concerto/locale/en/LC_MESSAGES/django.mo
  test "$(stat -c %u /var/lib/concerto/static /var/lib/concerto/media /var/lib/concerto/private /var/lib/concerto/celery | sort -u)" = 10001
  test "$(stat -c %u /opt/concerto/manage.py)" = 0
  ! touch /opt/concerto/config/written-by-the-service 2>/dev/null
  echo "static: $(find /var/lib/concerto/static -type f | wc -l) files; code owned by root, read-only for uid $(id -u)"'

log "manage.py check --deploy (production settings), migrate"
# Errors fail; of the warnings, only the HSTS preload one is expected (SECURE_HSTS_PRELOAD is opt-in).
"${run[@]}" python manage.py check --deploy --fail-level ERROR 2>&1 | tee "$WORK/check.log"
if grep -E '^\?|^[a-z_.]+: \(' "$WORK/check.log" | grep -v 'security.W021'; then
  echo "unexpected warnings from check --deploy"; exit 1
fi
"${run[@]}" python manage.py migrate --noinput -v 0
"${run[@]}" python manage.py collectstatic --noinput -v 0   # what the compose migrate service and the k8s init container run

log "gunicorn (the image's CMD) on 127.0.0.1:$PORT"
"${run[@]}" /opt/concerto/.venv/bin/gunicorn -c /opt/concerto/deploy/production/gunicorn.conf.py \
  --pid /run/check/gunicorn.pid config.wsgi >"$WORK/gunicorn.log" 2>&1 &
status=""
for _ in $(seq 1 60); do
  status=$(curl -s -o "$WORK/healthz.json" -w '%{http_code}' -H "Host: $HOST" -H "X-Forwarded-Proto: https" \
    "http://127.0.0.1:$PORT/healthz" || true)
  [ "$status" = 200 ] && break
  sleep 1
done
[ "$status" = 200 ] || { echo "/healthz answered '$status'"; cat "$WORK/healthz.json" "$WORK/gunicorn.log" 2>/dev/null | tail -30; exit 1; }
echo "GET /healthz from the host: 200 $(cat "$WORK/healthz.json")"
mapfile -d '' -t healthcheck <"$WORK/healthcheck.cmd"
healthcheck[-1]=${healthcheck[-1]%$'\n'}
"${run[@]}" "${healthcheck[@]}" && echo "the image's HEALTHCHECK command passes"
stopped "$WORK/gunicorn.pid"

log "Celery worker (compose worker-notifications' command) answering a ping"
"${run[@]}" sh -c 'exec /opt/concerto/.venv/bin/celery -A config worker --loglevel=WARNING -Q image_check \
  -n image-check@container --concurrency=1 --without-gossip --without-mingle --pidfile=/run/check/celery.pid' \
  >"$WORK/celery.log" 2>&1 &
pong=""
for _ in $(seq 1 30); do
  sleep 2
  pong=$("${run[@]}" /opt/concerto/.venv/bin/celery -A config inspect ping -d image-check@container --timeout 5 2>&1 || true)
  grep -q pong <<<"$pong" && break
done
grep -q pong <<<"$pong" || { echo "$pong"; tail -20 "$WORK/celery.log"; exit 1; }
echo "celery: $(grep -m1 pong <<<"$pong" | tr -s ' ')"
stopped "$WORK/celery.pid"

log "OK: $IMAGE (${size}), built in ${build_seconds} s"
