#!/usr/bin/env bash
# Restores a backup.sh dump into a NEW database (never over an existing one), then checks that
# every table holds exactly as many rows as the dump carries.
#   deploy/production/restore.sh /var/backups/concerto/concerto-20260101T020000Z.dump \
#       postgis://postgres@127.0.0.1:5432/concerto_restored
# The target URL's user must be allowed to create databases and the postgis extension.
# Once checked, switch the application over by pointing DATABASE_URL at the new database
# (or rename databases while the application is stopped).
set -euo pipefail

dump="${1:?usage: restore.sh DUMP_FILE TARGET_DATABASE_URL}"
url="${2:?usage: restore.sh DUMP_FILE TARGET_DATABASE_URL}"
[ -r "$dump" ] || { echo "cannot read $dump" >&2; exit 2; }
pg_url="postgresql://${url#*://}"
db_name="${pg_url##*/}"; db_name="${db_name%%\?*}"
admin_url="${pg_url%/*}/postgres"
[[ "$db_name" =~ ^[A-Za-z0-9_]+$ ]] || { echo "unexpected database name: $db_name" >&2; exit 2; }

if [ "$(psql -Atq "$admin_url" -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" = 1 ]; then
  echo "database $db_name already exists: restore.sh only restores into a new database" >&2
  exit 1
fi

echo "==> creating database $db_name" >&2
psql -q -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE \"$db_name\""
PGOPTIONS="--client-min-messages=warning" psql -q -v ON_ERROR_STOP=1 "$pg_url" -c "CREATE EXTENSION IF NOT EXISTS postgis"

echo "==> restoring $dump" >&2
# --no-owner/--no-acl: the restored objects belong to the restoring role, whatever the source's were.
pg_restore --exit-on-error --no-owner --no-acl --jobs="${RESTORE_JOBS:-2}" --dbname="$pg_url" "$dump"
psql -q "$pg_url" -c "ANALYZE" >/dev/null

echo "==> checking row counts against the dump" >&2
# Rows per table as carried by the dump: pg_restore prints the data as COPY blocks, one line a row.
expected="$(pg_restore --data-only --file=- "$dump" | awk '
  /^COPY / { table = $2; rows = 0; inside = 1; next }
  inside && /^\\\.$/ { print table "\t" rows; inside = 0; next }
  inside { rows++ }')"
failed=0
checked=0
while IFS=$'\t' read -r table rows; do
  [ -n "$table" ] || continue
  actual="$(psql -Atq "$pg_url" -c "SELECT count(*) FROM $table")"
  checked=$((checked + 1))
  # An extension's configuration table (PostGIS's spatial_ref_sys) is filled by CREATE EXTENSION;
  # the dump carries only the rows added on top, so it must hold at least those.
  ext="$(psql -Atq "$pg_url" -c "SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND classid = 'pg_class'::regclass AND objid = '$table'::regclass")"
  if [ "$ext" != 0 ] && [ "$actual" -ge "$rows" ]; then
    printf '%s\t%s\t(extension table, %s from the dump)\n' "$table" "$actual" "$rows"
  elif [ "$actual" != "$rows" ]; then
    echo "MISMATCH $table: dump $rows, restored $actual" >&2
    failed=1
  else
    printf '%s\t%s\n' "$table" "$actual"
  fi
done <<< "$expected"
if [ "$failed" = 1 ] || [ "$checked" = 0 ]; then
  echo "restore check FAILED ($checked tables checked)" >&2
  exit 1
fi
echo "==> $db_name restored: $checked tables, row counts match the dump" >&2
