"""Open data exports: CSV against its Table Schema, GeoJSON, anonymisation, the daily task, the index."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.http import StreamingHttpResponse

from opendata import exports
from opendata.tasks import export_task
from tests.opendata.conftest import IN_DESCRIPTION, Town, no_personal_data

pytestmark = pytest.mark.django_db

ETALAB = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


def streamed(client: Any, url: str, content_type: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    return b"".join(response.streaming_content).decode("utf-8")


def cast(field: dict[str, Any], text: str) -> Any:
    """A cell read as its Table Schema type says (the subset of types the schema uses)."""
    if text in ("",):
        assert not field.get("constraints", {}).get("required"), f"{field['name']} is required"
        return None
    kind = field["type"]
    if kind == "string":
        return text
    if kind == "number":
        value = Decimal(text)
        return value
    if kind == "boolean":
        assert text in field.get("trueValues", ["true"]) + field.get("falseValues", ["false"])
        return text in field.get("trueValues", ["true"])
    if kind == "datetime":
        # Table Schema's default format: YYYY-MM-DDThh:mm:ssZ
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    raise AssertionError(f"type {kind} not expected")


def validate_csv(text: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    assert "\r\n" in text  # RFC 4180 line breaks
    rows = list(csv.reader(io.StringIO(text, newline="")))
    fields = schema["fields"]
    assert rows[0] == [f["name"] for f in fields]
    out = []
    seen: dict[str, set[Any]] = {}
    for row in rows[1:]:
        assert len(row) == len(fields)
        record = {}
        for field, cell in zip(fields, row, strict=True):
            value = cast(field, cell)
            constraints = field.get("constraints", {})
            if value is not None and "enum" in constraints:
                assert value in constraints["enum"]
            if value is not None and "minimum" in constraints:
                assert constraints["minimum"] <= value <= constraints["maximum"]
            if constraints.get("unique"):
                assert value not in seen.setdefault(field["name"], set())
                seen[field["name"]].add(value)
            record[field["name"]] = value
        out.append(record)
    return out


def test_schema_is_a_table_schema(client: Any) -> None:
    schema = json.loads(client.get("/opendata/signalements.schema.json").content)
    assert schema["primaryKey"] == "reference"
    names = [f["name"] for f in schema["fields"]]
    assert names == [
        "reference",
        "category",
        "category_label",
        "status",
        "status_label",
        "open",
        "service",
        "created_at",
        "closed_at",
        "lon",
        "lat",
    ]
    assert {f["type"] for f in schema["fields"]} <= {"string", "number", "boolean", "datetime"}
    assert "description" not in names and "address" not in names


def test_csv_export_validates_against_its_schema(client: Any, town: Town) -> None:
    schema = json.loads(client.get("/opendata/signalements.schema.json").content)
    text = streamed(client, "/opendata/signalements.csv", "text/csv")
    records = validate_csv(text, schema)
    assert [r["reference"] for r in records] == [r.reference for r in town.reports]
    first = records[0]
    assert first["category"] == "nid-de-poule" and first["category_label"] == "Voirie › Nid de poule"
    assert first["status"] == "pris_en_compte" and first["open"] is True
    assert first["created_at"] == datetime(2025, 6, 15, 10)
    assert records[1]["status"] == "resolu" and records[1]["open"] is False and records[1]["closed_at"]
    # Five decimals (≈ 1 m), no more.
    assert first["lon"] == round(Decimal(town.reports[0].location.x), 5)
    assert all(-r["lon"].as_tuple().exponent <= 5 for r in records)


def test_geojson_export_is_valid_geojson_with_the_licence(client: Any, town: Town) -> None:
    body = json.loads(streamed(client, "/opendata/signalements.geojson", "application/geo+json"))
    assert body["type"] == "FeatureCollection"
    assert body["license"] == {"name": "Licence Ouverte / Open Licence 2.0 (Etalab)", "url": ETALAB}
    assert body["metadata"]["license"]["path"] == ETALAB
    assert len(body["features"]) == len(town.reports)
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert round(lon, 5) == lon and round(lat, 5) == lat
        assert isinstance(feature["properties"], dict)
        assert feature["id"] == feature["properties"]["reference"]
    assert body["features"][0]["properties"]["closed_at"] is None


def test_exports_carry_no_personal_data_nor_descriptions(client: Any, town: Town) -> None:
    outputs = [
        streamed(client, "/opendata/signalements.csv", "text/csv"),
        streamed(client, "/opendata/signalements.geojson", "application/geo+json"),
    ]
    for text in outputs:
        no_personal_data(text)
        assert "98 76 54 32" not in text and IN_DESCRIPTION not in text
        assert "Trou profond" not in text and "Chaussée affaissée" not in text
        assert town.hidden.reference not in text
        assert "Nous intervenons" not in text  # public messages are not exported either


def test_export_task_writes_files_atomically_and_the_index_lists_them(
    client: Any, town: Town, settings: Any, monkeypatch: Any
) -> None:
    directory = Path(settings.MEDIA_ROOT) / "opendata"
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        replaced.append((str(src), str(dst)))
        assert Path(src).parent == Path(dst).parent == directory  # same file system: an atomic rename
        real_replace(src, dst)

    monkeypatch.setattr(exports.os, "replace", spy)
    assert export_task.apply().get() == 3 * len(exports.DATASETS)
    names = sorted(p.name for p in directory.iterdir() if p.name.startswith("signalements."))
    assert names == ["signalements.csv", "signalements.geojson", "signalements.schema.json"]
    assert {Path(dst).name for _src, dst in replaced} == {p.name for p in directory.iterdir()}
    assert all(Path(src).name.startswith(".") and src.endswith(".tmp") for src, _dst in replaced)
    assert (directory / "signalements.csv").read_bytes().decode() == streamed(
        client, "/opendata/signalements.csv", "text/csv"
    )
    no_personal_data((directory / "signalements.geojson").read_text())

    index = json.loads(client.get("/opendata/").content)
    assert index["license"]["path"] == ETALAB
    dataset = index["datasets"][0]
    assert dataset["name"] == "signalements"
    assert dataset["schema"] == "http://testserver/opendata/signalements.schema.json"
    assert dataset["live"]["csv"] == "http://testserver/opendata/signalements.csv"
    files = {f["name"]: f for f in dataset["files"]}
    assert set(files) == set(names)
    assert [d["name"] for d in index["datasets"]] == [
        "signalements",
        "projets",
        "contributions",
        "couches-projets",
    ]
    assert files["signalements.csv"]["size"] == (directory / "signalements.csv").stat().st_size
    assert files["signalements.csv"]["url"] == "http://testserver/media/opendata/signalements.csv"
    assert files["signalements.csv"]["modified_at"].endswith("Z")


def test_a_failed_export_keeps_the_previous_file(town: Town, settings: Any, monkeypatch: Any) -> None:
    directory = Path(settings.MEDIA_ROOT) / "opendata"
    exports.exports_write()
    before = (directory / "signalements.csv").read_text()

    def broken(dataset: exports.Dataset) -> Any:
        yield "reference\r\n"
        raise OSError("disk full")

    monkeypatch.setitem(exports.FORMATS, "csv", ("text/csv", broken))
    with pytest.raises(OSError, match="disk full"):
        exports.exports_write()
    assert (directory / "signalements.csv").read_text() == before
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_index_without_files_yet(client: Any, media: Any) -> None:
    index = json.loads(client.get("/opendata/").content)
    assert index["datasets"][0]["files"] == []
    assert client.get("/opendata/nope.csv").status_code == 404
    assert client.get("/opendata/signalements.xlsx").status_code == 404
