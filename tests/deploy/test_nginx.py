"""The nginx site file passes the real `nginx -t`, with its paths moved into a temporary prefix."""

import re
import shutil
import subprocess
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
