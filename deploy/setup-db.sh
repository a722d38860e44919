#!/usr/bin/env bash
# Makes sure the database named by DATABASE_URL exists with PostGIS, and that Redis answers.
# Without DATABASE_URL, the machine's local PostgreSQL cluster is used and started if it is down.
set -euo pipefail

url="${DATABASE_URL:-postgis://postgres@127.0.0.1:5432/concerto}"
# psql speaks postgresql://; Django's URL may say postgis://.
pg_url="postgresql://${url#*://}"
db_name="${pg_url##*/}"; db_name="${db_name%%\?*}"
admin_url="${pg_url%/*}/postgres"

if [ -z "${DATABASE_URL:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "==> starting the local PostgreSQL cluster"
  for version in $(ls /etc/postgresql/); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -d "$admin_url" || { echo "PostgreSQL ne répond pas à $admin_url" >&2; exit 1; }

if ! psql -Atq "$admin_url" -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  echo "==> creating database $db_name"
  psql -q "$admin_url" -c "CREATE DATABASE \"$db_name\""
fi
PGOPTIONS="--client-min-messages=warning" psql -q "$pg_url" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null

redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  if [ -z "${REDIS_URL:-}" ]; then
    echo "==> starting Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/concerto.log
    for _ in $(seq 1 20); do redis-cli -u "$redis_url" ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  redis-cli -u "$redis_url" ping >/dev/null || { echo "Redis ne répond pas à $redis_url" >&2; exit 1; }
fi
echo "==> database $db_name with PostGIS and Redis are ready"
