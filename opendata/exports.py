"""Anonymised open data exports (GeoJSON and CSV) with a Table Schema, under Licence Ouverte 2.0.

A :class:`Dataset` declares its fields (the Table Schema) and a row generator over a server-side
cursor (``QuerySet.iterator``), so that a million rows never sit in memory: the live views stream
them and the daily task writes them to ``MEDIA_ROOT/opendata/`` through a temporary file renamed
into place (readers see the old file or the new one, never half of one). The urbanisme
contributions add a ``Dataset`` here when that app lands.

Anonymisation (see docs/OPENDATA.md): public columns only, selected by name (the contact table is
never joined); coordinates rounded to 5 decimals (about 1 m); the free-text description and the
address are left out, since citizens type names and phone numbers in them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models.functions import GeoFunc
from django.db.models import F, FloatField
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from opendata.licence import licence
from signalements import workflow
from signalements.models import Report, TicketState

COORDINATE_DECIMALS = 5  # ≈ 1.1 m in latitude: enough to find the pothole, no more.
CHUNK_SIZE = 2000


@dataclass(frozen=True)
class Dataset:
    name: str  # file stem: <name>.geojson, <name>.csv, <name>.schema.json
    title: Promise | str
    description: Promise | str
    fields: list[dict[str, Any]]  # Table Schema fields, in column order; lon/lat make the geometry
    rows: Callable[[], Iterable[dict[str, Any]]]
    primary_key: str

    def schema(self) -> dict[str, Any]:
        return {
            "fields": self.fields,
            "primaryKey": self.primary_key,
            "missingValues": [""],
        }

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.fields]


def _utc(value: datetime | None) -> str:
    """Table Schema's default datetime format: ``YYYY-MM-DDThh:mm:ssZ`` (UTC, an explicit offset)."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _X(GeoFunc):
    function = "ST_X"
    output_field = FloatField()


class _Y(GeoFunc):
    function = "ST_Y"
    output_field = FloatField()


def _report_rows() -> Iterator[dict[str, Any]]:
    """Published reports, public columns only, oldest first, read in chunks over a server-side cursor."""
    rows = (
        Report.objects.filter(published=True)
        .annotate(
            lon=_X("location"),
            lat=_Y("location"),
            parent_name=F("category__parent__name"),
        )
        .order_by("created_at", "pk")
        .values_list(
            "reference",
            "category__code",
            "parent_name",
            "category__name",
            "ticket__state",
            "ticket__service__name",
            "created_at",
            "ticket__closed_at",
            "lon",
            "lat",
        )
    )
    for ref, code, parent, name, state, service, created, closed, lon, lat in rows.iterator(
        chunk_size=CHUNK_SIZE
    ):
        yield {
            "reference": ref,
            "category": code,
            "category_label": f"{parent} › {name}" if parent else name,
            "status": state,
            "status_label": str(TicketState(state).label),
            "open": workflow.is_open(state),
            "service": service,
            "created_at": _utc(created),
            "closed_at": _utc(closed),
            "lon": round(lon, COORDINATE_DECIMALS),
            "lat": round(lat, COORDINATE_DECIMALS),
        }


REPORTS = Dataset(
    name="signalements",
    title=_("Signalements"),
    description=_(
        "Signalements publiés par les habitants, anonymisés : sans description libre, sans adresse, "
        "sans coordonnées du déclarant ; positions arrondies à 5 décimales (environ 1 m)."
    ),
    primary_key="reference",
    fields=[
        {
            "name": "reference",
            "type": "string",
            "title": "Référence",
            "description": "Identifiant public du signalement.",
            "constraints": {"required": True, "unique": True},
        },
        {
            "name": "category",
            "type": "string",
            "title": "Code de catégorie",
            "constraints": {"required": True},
        },
        {"name": "category_label", "type": "string", "title": "Catégorie"},
        {
            "name": "status",
            "type": "string",
            "title": "État",
            "constraints": {"required": True, "enum": [s.value for s in TicketState]},
        },
        {"name": "status_label", "type": "string", "title": "Libellé de l'état"},
        {
            "name": "open",
            "type": "boolean",
            "title": "En cours de traitement",
            "trueValues": ["true"],
            "falseValues": ["false"],
        },
        {"name": "service", "type": "string", "title": "Service chargé du traitement"},
        {
            "name": "created_at",
            "type": "datetime",
            "title": "Déposé le (UTC)",
            "constraints": {"required": True},
        },
        {"name": "closed_at", "type": "datetime", "title": "Clos le (UTC)"},
        {
            "name": "lon",
            "type": "number",
            "title": "Longitude WGS84, arrondie à 5 décimales",
            "constraints": {"required": True, "minimum": -180, "maximum": 180},
        },
        {
            "name": "lat",
            "type": "number",
            "title": "Latitude WGS84, arrondie à 5 décimales",
            "constraints": {"required": True, "minimum": -90, "maximum": 90},
        },
    ],
    rows=_report_rows,
)

DATASETS: dict[str, Dataset] = {REPORTS.name: REPORTS}


# --- Encodings ---------------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def csv_chunks(dataset: Dataset) -> Iterator[str]:
    """RFC 4180 CSV (comma, CRLF, quotes when needed), UTF-8, with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(dataset.columns)
    for count, row in enumerate(dataset.rows(), start=1):
        writer.writerow([_csv_value(row[c]) for c in dataset.columns])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def geojson_metadata(dataset: Dataset) -> dict[str, Any]:
    return {
        "title": str(dataset.title),
        "description": str(dataset.description),
        "license": licence(),
        "generated_at": _utc(datetime.now(UTC)),
        "schema": [{k: f[k] for k in ("name", "type", "title") if k in f} for f in dataset.fields],
    }


def geojson_chunks(dataset: Dataset) -> Iterator[str]:
    """An RFC 7946 FeatureCollection; ``license`` and ``metadata`` are foreign members."""
    lic = licence()
    head = {
        "type": "FeatureCollection",
        "name": dataset.name,
        "license": {"name": lic["title"], "url": lic["path"]},
        "metadata": geojson_metadata(dataset),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "features": ['
    parts: list[str] = []
    first = True
    for row in dataset.rows():
        props = {k: v for k, v in row.items() if k not in ("lon", "lat")}
        props = {k: (v if v != "" else None) for k, v in props.items()}
        feature = {
            "type": "Feature",
            "id": row[dataset.primary_key],
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
            "properties": props,
        }
        parts.append(("" if first else ",\n") + json.dumps(feature, ensure_ascii=False))
        first = False
        if len(parts) >= 500:
            yield "".join(parts)
            parts = []
    parts.append("]}\n")
    yield "".join(parts)


FORMATS: dict[str, tuple[str, Callable[[Dataset], Iterator[str]]]] = {
    "geojson": ("application/geo+json", geojson_chunks),
    "csv": ("text/csv", csv_chunks),
}


# --- Files -------------------------------------------------------------------------------------------


def export_directory() -> Path:
    return Path(settings.MEDIA_ROOT) / "opendata"


def _write_atomic(path: Path, chunks: Iterable[str]) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over the target."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def exports_write(directory: Path | None = None) -> list[Path]:
    """Write every dataset in every format, and its Table Schema, into ``directory``."""
    directory = directory or export_directory()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in DATASETS.values():
        for extension, (_media, encode) in FORMATS.items():
            path = directory / f"{dataset.name}.{extension}"
            _write_atomic(path, encode(dataset))
            written.append(path)
        schema_path = directory / f"{dataset.name}.schema.json"
        _write_atomic(schema_path, [json.dumps(dataset.schema(), ensure_ascii=False, indent=2)])
        written.append(schema_path)
    return written


def files_of(dataset: Dataset, directory: Path | None = None) -> list[dict[str, Any]]:
    """The exported files of a dataset that exist: name, format, size and date (UTC)."""
    directory = directory or export_directory()
    out = []
    for extension in (*FORMATS, "schema.json"):
        path = directory / f"{dataset.name}.{extension}"
        if not path.exists():
            continue
        stat = path.stat()
        out.append(
            {
                "name": path.name,
                "format": extension,
                "size": stat.st_size,
                "modified_at": _utc(datetime.fromtimestamp(stat.st_mtime, UTC)),
                "path": f"{settings.MEDIA_URL.rstrip('/')}/opendata/{path.name}",
            }
        )
    return out
