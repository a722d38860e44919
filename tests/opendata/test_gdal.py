"""GDAL (the library behind QGIS and ogr2ogr) reads our OGC API and our GeoJSON export over HTTP."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.opendata.conftest import Town

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed"),
]


def ogrinfo(*args: str) -> str:
    done = subprocess.run(
        ["ogrinfo", "-ro", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GDAL_HTTP_TIMEOUT": "20", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def feature_count(output: str) -> int:
    match = re.search(r"Feature Count: (\d+)", output)
    assert match, output
    return int(match.group(1))


def test_gdal_reads_the_ogc_api(live_server: Any, town: Town) -> None:
    listing = ogrinfo(f"OAPIF:{live_server.url}/ogc/")
    for name in ("reports", "zones", "territories"):
        assert name in listing
    reports = ogrinfo("-so", f"OAPIF:{live_server.url}/ogc/", "reports")
    assert feature_count(reports) == len(town.reports)
    assert "category" in reports and "status" in reports
    zones = ogrinfo("-al", "-so", f"OAPIF:{live_server.url}/ogc/collections/zones")
    assert feature_count(zones) == 2


def test_gdal_reads_the_geojson_export(live_server: Any, town: Town) -> None:
    output = ogrinfo("-al", "-so", f"{live_server.url}/opendata/signalements.geojson")
    assert feature_count(output) == len(town.reports)
    assert "Point" in output and "reference" in output
