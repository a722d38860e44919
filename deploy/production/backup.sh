#!/usr/bin/env bash
# Logical backup of the Concerto database: pg_dump custom format (-Fc, compressed, restorable table
# by table), timestamped, written atomically, old dumps pruned.
#   DATABASE_URL=postgis://concerto@127.0.0.1:5432/concerto deploy/production/backup.sh
# Environment: DATABASE_URL (postgis:// or postgresql://), BACKUP_DIR (default /var/backups/concerto),
# BACKUP_RETENTION_DAYS (default 14; dumps older than this are deleted after a successful dump).
# Prints the path of the new dump. Run it from a systemd timer or cron (docs/DEPLOY.md).
# This is the daily safety net; point-in-time recovery comes from WAL archiving (docs/DEPLOY.md).
set -euo pipefail

url="${DATABASE_URL:?DATABASE_URL must name the database to back up}"
pg_url="postgresql://${url#*://}"
db_name="${pg_url##*/}"; db_name="${db_name%%\?*}"
backup_dir="${BACKUP_DIR:-/var/backups/concerto}"
retention_days="${BACKUP_RETENTION_DAYS:-14}"
[[ "$retention_days" =~ ^[0-9]+$ ]] || { echo "BACKUP_RETENTION_DAYS must be a number of days" >&2; exit 2; }

mkdir -p "$backup_dir"
chmod 0700 "$backup_dir"
umask 077
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
target="$backup_dir/${db_name}-${stamp}.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --no-password --file="$partial" "$pg_url"
# A dump that pg_restore cannot list is not a backup.
pg_restore --list "$partial" >/dev/null
mv "$partial" "$target"
trap - EXIT

# Retention: only this database's completed dumps, only after a good one was written.
find "$backup_dir" -maxdepth 1 -type f -name "${db_name}-*.dump" -mtime "+${retention_days}" -print -delete \
  | sed 's/^/==> pruned /' >&2
echo "$target"
