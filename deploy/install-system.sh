#!/usr/bin/env bash
# Installs the system packages Concerto needs, through apt, and only what is missing:
# PostgreSQL with PostGIS 3, the GDAL/GEOS/PROJ libraries, Redis, gettext, nginx and PgBouncer (for
# tests/deploy), and a Python >= 3.12.
# The same script serves CI, a developer's machine and a server. Run as root (or it uses sudo).
# Options: --browser also installs Debian's chromium (the page tests drive it with Playwright).
set -euo pipefail

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# PostgreSQL: the machine's own major version if a server is installed, else the distribution's.
pg_major=""
if ls /usr/lib/postgresql/ >/dev/null 2>&1; then
  pg_major=$(ls /usr/lib/postgresql/ | sort -n | tail -1)
fi

missing=()
[ -n "$pg_major" ] || missing+=(postgresql postgresql-contrib)
# nginx-light: tests/deploy check the production nginx configuration with the real `nginx -t`.
# pgbouncer (about 1 MB): tests/deploy/test_pgbouncer.py runs the application behind a real one in
# transaction mode; the tests start their own process on a free port, Debian's service is not used.
for p in gdal-bin redis-server gettext nginx-light pgbouncer; do pkg_installed "$p" || missing+=("$p"); done
if [ "$want_browser" = 1 ]; then pkg_installed chromium || missing+=(chromium); fi

updated=0
apt_update() { if [ "$updated" = 0 ]; then $SUDO apt-get update -qq; updated=1; fi; }

if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt: ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -z "$pg_major" ]; then pg_major=$(ls /usr/lib/postgresql/ | sort -n | tail -1); fi
if ! pkg_installed "postgresql-${pg_major}-postgis-3"; then
  echo "==> apt: postgresql-${pg_major}-postgis-3"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "postgresql-${pg_major}-postgis-3" >/dev/null
fi

# Django 6 needs Python >= 3.12 (docs/adr/0001-python-version.md).
if ! "$(dirname "$0")/find-python.sh" >/dev/null 2>&1; then
  apt_update
  for candidate in python3.13 python3.12; do
    if apt-cache show "$candidate" >/dev/null 2>&1; then
      echo "==> apt: $candidate"
      $SUDO apt-get install -y -qq --no-install-recommends "$candidate" "$candidate-venv" >/dev/null
      break
    fi
  done
  "$(dirname "$0")/find-python.sh" >/dev/null || {
    echo "Aucun Python >= 3.12 n'est disponible : installez python3.12 ou python3.13." >&2
    exit 1
  }
fi
echo "==> system packages OK (PostgreSQL ${pg_major} + PostGIS 3, GDAL $(gdal-config --version 2>/dev/null || gdalinfo --version | cut -d, -f1 | cut -d' ' -f2))"
