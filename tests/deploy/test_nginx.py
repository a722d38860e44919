"""The nginx site file passes the real `nginx -t`, with its paths moved into a temporary prefix."""

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.conftest import PRODUCTION

SITE = PRODUCTION / "nginx" / "concerto.conf"
HEADERS = PRODUCTION / "nginx" / "security-headers.conf"
# Absolute paths of the site file, moved under the test's prefix.
PREFIXES = ("/var/lib/concerto", "/var/cache/nginx", "/var/www", "/etc/concerto", "/etc/nginx/snippets")


def _nginx() -> str:
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )
    if path is None:
        pytest.fail("nginx is not installed: `apt-get install -y nginx-light` (see docs/DEPLOY.md)")
    return path


def _rewrite(text: str, root: Path) -> str:
    for prefix in PREFIXES:
        text = text.replace(prefix, f"{root}{prefix}")
    return text


@pytest.fixture(params=["upstream.conf", "upstream-compose.conf"])
def nginx_prefix(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    site = _rewrite(SITE.read_text(), tmp_path)
    for prefix in PREFIXES:
        (tmp_path / prefix.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for sub in ("var/lib/concerto/static", "var/lib/concerto/media", "logs"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/nginx/snippets/concerto-security-headers.conf").write_text(HEADERS.read_text())
    # The compose upstream names the `web` service, which does not resolve here: loopback instead.
    upstream = (PRODUCTION / "nginx" / request.param).read_text().replace("server web:", "server 127.0.0.1:")
    (tmp_path / "etc/nginx/snippets/concerto-upstream.conf").write_text(upstream)
    tls = tmp_path / "etc/concerto/tls"
    tls.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=concerto.test",
         "-keyout", tls / "privkey.pem", "-out", tls / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "concerto.conf").write_text(site)
    mime = "/etc/nginx/mime.types"
    (tmp_path / "nginx.conf").write_text(
        f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    include {mime};
    access_log {tmp_path}/logs/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/sites/*.conf;
}}
"""
    )
    return tmp_path


def test_site_passes_nginx_t(nginx_prefix: Path) -> None:
    result = subprocess.run(
        [_nginx(), "-t", "-p", str(nginx_prefix), "-c", str(nginx_prefix / "nginx.conf")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_site_rules() -> None:
    text = SITE.read_text()
    assert "client_max_body_size 56m;" in text
    assert re.search(r"location \^~ /media/private/ \{\s*return 404;", text)
    # Nothing points at PRIVATE_MEDIA_ROOT.
    assert "/var/lib/concerto/private" not in re.sub(r"#.*", "", text)
    assert "alias /var/lib/concerto/media/;" in text
    tiles = text.split("location /tiles/ {", 1)[1].split("\n    }", 1)[0]
    for directive in ("proxy_cache concerto_tiles;", "proxy_cache_key", "proxy_cache_use_stale", "updating"):
        assert directive in tiles
    assert "proxy_ignore_headers" not in text  # upstream Cache-Control/ETag are honoured
    assert "application/vnd.mapbox-vector-tile" in text and "application/json" in text
    healthz = text.split("location = /healthz {", 1)[1].split("}", 1)[0]
    assert "proxy_cache off;" in healthz
    assert "proxy_set_header X-Request-ID $request_id;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    headers = HEADERS.read_text()
    for header in (
        "Strict-Transport-Security",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Permissions-Policy",
    ):
        assert header in headers
    assert "geolocation=(self)" in headers and "camera=(self)" in headers


class _CountingUpstream(ThreadingHTTPServer):
    """Stands for gunicorn: answers 200 with the number of body bytes nginx passed on."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                remaining, seen = int(self.headers.get("Content-Length") or 0), 0
                while remaining:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    seen += len(chunk)
                    remaining -= len(chunk)
                body = str(seen).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _log(prefix: Path) -> str:
    return (prefix / "logs" / "error.log").read_text()[-2000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, path: str, size: int) -> tuple[int, bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
    chunk = b"\0" * (1 << 20)
    try:
        connection.putrequest("POST", path, skip_host=True)
        connection.putheader("Host", "concerto.example.fr")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        try:
            for start in range(0, size, len(chunk)):
                connection.send(chunk[: min(len(chunk), size - start)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # nginx answered 413 and closed before the end of the body
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("nginx_prefix", ["upstream.conf"], indirect=True)
def test_body_limits_for_real_photos_56m_and_planning_layers_520m(nginx_prefix: Path) -> None:
    # given the site served by a real nginx on free loopback ports, in front of a counting upstream
    upstream = _CountingUpstream()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    https, http_port = _free_port(), _free_port()
    site = nginx_prefix / "sites" / "concerto.conf"
    text = site.read_text()
    text = re.sub(r"listen \[::\]:\d+[^;]*;", "", text)
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site.write_text(text)
    snippet = nginx_prefix / "etc/nginx/snippets/concerto-upstream.conf"
    snippet.write_text(
        re.sub(
            r"server 127\.0\.0\.1:\d+", f"server 127.0.0.1:{upstream.server_address[1]}", snippet.read_text()
        )
    )
    # Started as root, nginx's workers would drop to `nobody`, who cannot enter pytest's 0700 tmp dir.
    workers = "user root root;" if os.geteuid() == 0 else ""
    nginx = subprocess.Popen(
        [
            _nginx(),
            "-p",
            str(nginx_prefix),
            "-c",
            str(nginx_prefix / "nginx.conf"),
            "-g",
            f"daemon off; {workers}",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", https)) == 0:
                    break
            time.sleep(0.1)
        mib = 1 << 20
        # then 100 MiB reach gunicorn on a planning-layer upload, page or API
        for path in (
            "/api/urbanisme/projets/eurorennes/couches/",
            "/urbanisme/projets/eurorennes/couches/importer/",
        ):
            assert _post(https, path, 100 * mib) == (200, str(100 * mib).encode()), _log(nginx_prefix)
        # and elsewhere the photo limit stands: 56 MiB pass, 60 MiB are refused by nginx itself
        assert _post(https, "/api/signalements/", 56 * mib - 4096) == (200, str(56 * mib - 4096).encode())
        status, _ = _post(https, "/api/signalements/", 60 * mib)
        assert status == 413
        # and a layer upload over the 520m ceiling is refused before it reaches gunicorn
        status, _ = _post(https, "/api/urbanisme/projets/eurorennes/couches/", 521 * mib)
        assert status == 413
    finally:
        nginx.terminate()
        nginx.wait(10)
        upstream.shutdown()
        upstream.server_close()
