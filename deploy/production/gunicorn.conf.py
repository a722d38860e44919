"""Gunicorn configuration for Concerto in production (systemd, compose and Kubernetes).

Everything can be overridden from the environment (GUNICORN_*), so the same file serves a
4-core VM and a 1-CPU Kubernetes pod. Run with:
    gunicorn -c deploy/production/gunicorn.conf.py config.wsgi
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Bind: a loopback port behind the local nginx (systemd), 0.0.0.0:8000 in a container.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

# Workers: the classic 2 * cores + 1, capped (each worker holds its own DB connections and memory).
_cores = multiprocessing.cpu_count()
workers = _int("GUNICORN_WORKERS", min(2 * _cores + 1, _int("GUNICORN_MAX_WORKERS", 9)))
# Threads: requests wait on PostGIS and on tiles; threads overlap that I/O without more memory.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)

# Timeouts: tile queries are capped at TILES_STATEMENT_TIMEOUT_MS (5 s) and photo uploads
# (5 x 10 MB) are buffered by nginx first, so 30 s is generous.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle workers to bound memory growth (GDAL/rasterio caches); jitter avoids restarting them all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Trust X-Forwarded-* only from the local nginx (or the ingress controller's addresses, from env).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs on stdout/stderr (journald or the container runtime collects them), with nginx's request id.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = (
    '%(h)s %({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s '
    '"%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}i)s'
)

# Load the app in each worker (not preloaded): a deploy's HUP reloads code cleanly, and no DB
# connection or Celery connection is shared across fork().
preload_app = False
# Workers' heartbeat files in RAM (a read-only root or an overlayfs /tmp can stall them); they
# hold no data, so a shared tmpfs is fine.
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _SHM if os.path.isdir(_SHM) else None)
proc_name = "concerto-web"
