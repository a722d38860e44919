#!/usr/bin/env bash
# Starts the local demo: web server, Celery worker and Celery beat. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "==> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$PY manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
.venv/bin/celery -A config worker -Q notifications,media,imports_tiles --loglevel=INFO --concurrency=2 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule &
pids+=($!)

for _ in $(seq 1 60); do
  curl -fs "http://$HOST:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
echo
echo "==> Concerto est lancé : http://$HOST:$PORT  (administration : http://$HOST:$PORT/admin/, santé : /healthz)"
echo "    Ctrl-C pour tout arrêter."
wait -n "${pids[@]}"
