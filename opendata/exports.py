"""Anonymised open data exports (GeoJSON and CSV) with a Table Schema, under Licence Ouverte 2.0.

A :class:`Dataset` declares its fields (the Table Schema) and a row generator over a server-side
cursor (``QuerySet.iterator``), so that a million rows never sit in memory: the live views stream
them and the daily task writes them through the ``opendata`` storage (``MEDIA_ROOT/opendata/``
through a temporary file renamed into place, or one upload per object to the public bucket):
readers see the old file or the new one, never half of one.

Datasets: ``signalements`` (reports), ``projets`` (urban projects), ``contributions`` (the
concertation's published contributions; the bilan's CSV and GeoJSON are the same rows for one
project, see ``urbanisme.bilan_views``) and ``couches-projets`` (features of published planning
layers). A row may carry a ``geometry`` (a GeoJSON dict) beside ``lon``/``lat``: the GeoJSON file
then gives the whole shape, the CSV its point-on-surface.

Anonymisation (see docs/OPENDATA.md): public columns only, selected by name (the contact and author
tables are never joined); coordinates rounded to 5 decimals (about 1 m); free text written by the
public (a report's description and address, a contribution's title and text) is left out, since
people type names and phone numbers in it.
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

from django.contrib.gis.db.models.functions import AsGeoJSON, GeoFunc, PointOnSurface
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db.models import Exists, F, FloatField, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from config.db_router import replica_alias
from opendata.licence import licence
from signalements import workflow
from signalements.models import Report, TicketState
from urbanisme.bilan import PUBLIC_PROJECT_STATUSES, public_channel_label
from urbanisme.models import (
    Contribution,
    ContributionChannel,
    ContributionKind,
    LayerFeature,
    LayerKind,
    PhaseKind,
    Project,
    ProjectStatus,
    Reply,
    Visibility,
)
from urbanisme.phases import CALENDAR_TZ, PhaseDates, current_phase

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


def paris_date(value: datetime | None) -> str:
    """The calendar day in Europe/Paris (``YYYY-MM-DD``), as the concertation's calendar counts."""
    return value.astimezone(CALENDAR_TZ).date().isoformat() if value is not None else ""


def _coordinate(value: float | None) -> float | None:
    return round(value, COORDINATE_DECIMALS) if value is not None else None


def _geometry(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def _lon_lat(title: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "lon",
            "type": "number",
            "title": f"Longitude WGS84 {title}, arrondie à 5 décimales",
            "constraints": {"required": True, "minimum": -180, "maximum": 180},
        },
        {
            "name": "lat",
            "type": "number",
            "title": f"Latitude WGS84 {title}, arrondie à 5 décimales",
            "constraints": {"required": True, "minimum": -90, "maximum": 90},
        },
    ]


def _report_rows() -> Iterator[dict[str, Any]]:
    """Published reports, public columns only, oldest first, read in chunks over a server-side cursor.

    Read on the replica when there is one: open data tolerates replication lag (config/db_router.py).
    """
    rows = (
        Report.objects.using(replica_alias())
        .filter(published=True)
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

# --- Urbanisme: projects, contributions, planning layers ---------------------------------------------


def public_projects() -> QuerySet[Project]:
    return Project.objects.filter(status__in=PUBLIC_PROJECT_STATUSES)


def _current_phase_of(project: Project, now: datetime) -> Any:
    """The project's phase today in Paris, from its prefetched calendar (``None`` between phases)."""
    phases = list(project.phases.all())
    found = current_phase(
        [PhaseDates(key=p.pk, label=p.label, start=p.start_date, end=p.end_date) for p in phases], now
    )
    return next((p for p in phases if found is not None and p.pk == found.key), None)


def project_properties(project: Project, now: datetime | None = None) -> dict[str, Any]:
    """Public fields of a project (the OGC collection and the ``projets`` file)."""
    phase = _current_phase_of(project, now or timezone.now())
    return {
        "slug": project.slug,
        "title": project.title,
        "summary": project.summary,
        "status": project.status,
        "status_label": str(ProjectStatus(project.status).label),
        "organisation": project.organisation.name,
        "territory": project.territory.slug,
        "current_phase": phase.kind if phase else "",
        "current_phase_label": phase.label if phase else "",
        "current_phase_end": phase.end_date.isoformat() if phase else "",
        "published_date": paris_date(project.published_at),
        "bilan_published_date": paris_date(project.bilan_published_at),
    }


def _project_rows() -> Iterator[dict[str, Any]]:
    projects = (
        public_projects()
        .select_related("organisation", "territory")
        .prefetch_related("phases")
        .annotate(
            lon=_X(PointOnSurface("perimeter")),
            lat=_Y(PointOnSurface("perimeter")),
            shape=AsGeoJSON("perimeter", precision=COORDINATE_DECIMALS),
        )
        .order_by("pk")
    )
    now = timezone.now()
    # prefetch_related needs chunks: the calendar of each chunk of projects is one more query.
    for project in projects.iterator(chunk_size=CHUNK_SIZE):
        yield {
            **project_properties(project, now),
            "lon": _coordinate(project.lon),  # type: ignore[attr-defined]
            "lat": _coordinate(project.lat),  # type: ignore[attr-defined]
            "geometry": _geometry(project.shape),  # type: ignore[attr-defined]
        }


PROJECTS = Dataset(
    name="projets",
    title=_("Projets urbains en concertation"),
    description=_(
        "Projets publiés : titre, résumé, statut, organisation responsable, phase en cours le jour de "
        "l'export ; le GeoJSON donne le périmètre, le CSV un point à l'intérieur."
    ),
    primary_key="slug",
    fields=[
        {
            "name": "slug",
            "type": "string",
            "title": "Identifiant public du projet",
            "constraints": {"required": True, "unique": True},
        },
        {"name": "title", "type": "string", "title": "Titre", "constraints": {"required": True}},
        {"name": "summary", "type": "string", "title": "Résumé"},
        {
            "name": "status",
            "type": "string",
            "title": "Statut",
            "constraints": {"required": True, "enum": [s.value for s in PUBLIC_PROJECT_STATUSES]},
        },
        {"name": "status_label", "type": "string", "title": "Libellé du statut"},
        {"name": "organisation", "type": "string", "title": "Organisation responsable"},
        {"name": "territory", "type": "string", "title": "Identifiant du territoire"},
        {
            "name": "current_phase",
            "type": "string",
            "title": "Type de la phase en cours (jour de l'export, heure de Paris)",
            "constraints": {"enum": list(PhaseKind.values)},
        },
        {"name": "current_phase_label", "type": "string", "title": "Phase en cours"},
        {"name": "current_phase_end", "type": "date", "title": "Dernier jour de la phase en cours"},
        {"name": "published_date", "type": "date", "title": "Publié le (heure de Paris)"},
        {"name": "bilan_published_date", "type": "date", "title": "Bilan publié le (heure de Paris)"},
        *_lon_lat("d'un point à l'intérieur du périmètre"),
    ],
    rows=_project_rows,
)


def public_contributions() -> QuerySet[Contribution]:
    """Published contributions of public projects: what the bilan and the open data count."""
    return Contribution.objects.filter(
        visibility=Visibility.PUBLISHED, project__status__in=PUBLIC_PROJECT_STATUSES
    )


def _official_answers() -> QuerySet[Reply]:
    return Reply.objects.filter(
        contribution=OuterRef("pk"), is_official=True, visibility=Visibility.PUBLISHED
    )


def contribution_rows(
    contributions: QuerySet[Contribution] | None = None, *, zones: dict[int, list[str]] | None = None
) -> Iterator[dict[str, Any]]:
    """Anonymised rows of published contributions, oldest first, over a server-side cursor.

    Never selected: title, text, pseudonym, author (``ContributionAuthor``), ``author_user``,
    ``entered_by``, ``moderated_by``, photos; a channel's « précision » only for collective channels
    (``urbanisme.bilan.public_channel_label``). ``zones`` (contribution id -> zone names) adds the
    bilan's ``zones`` column.
    """
    qs = (contributions if contributions is not None else public_contributions()).filter(
        visibility=Visibility.PUBLISHED
    )
    rows = (
        qs.annotate(
            lon=_X(PointOnSurface("geom")),
            lat=_Y(PointOnSurface("geom")),
            shape=AsGeoJSON("geom", precision=COORDINATE_DECIMALS),
            answered=Exists(_official_answers()),
            first_answer=Subquery(_official_answers().order_by("created_at").values("created_at")[:1]),
        )
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "project__slug",
            "phase__kind",
            "phase__title",
            "kind",
            "theme__name",
            "channel",
            "channel_label",
            "supports_count",
            "answered",
            "first_answer",
            "created_at",
            "lon",
            "lat",
            "shape",
        )
    )
    phase_labels = dict(PhaseKind.choices)
    kind_labels = dict(ContributionKind.choices)
    channel_labels = dict(ContributionChannel.choices)
    for (
        pk,
        project,
        phase,
        phase_title,
        kind,
        theme,
        channel,
        channel_text,
        supports,
        answered,
        first_answer,
        created,
        lon,
        lat,
        shape,
    ) in rows.iterator(chunk_size=CHUNK_SIZE):
        row = {
            "id": pk,
            "project": project,
            "phase": phase,
            "phase_label": phase_title or str(phase_labels.get(phase, phase)),
            "kind": kind,
            "kind_label": str(kind_labels.get(kind, kind)),
            "theme": theme or "",
            "channel": channel,
            "channel_name": str(channel_labels.get(channel, channel)),
            "channel_detail": public_channel_label(channel, channel_text),
            "supports": supports,
            "answered": answered,
            "first_answer_date": paris_date(first_answer),
            "created_date": paris_date(created),
        }
        if zones is not None:
            row["zones"] = " ; ".join(zones.get(pk, []))
        row.update({"lon": _coordinate(lon), "lat": _coordinate(lat), "geometry": _geometry(shape)})
        yield row


CONTRIBUTION_FIELDS: list[dict[str, Any]] = [
    {
        "name": "id",
        "type": "integer",
        "title": "Numéro de la contribution",
        "constraints": {"required": True, "unique": True},
    },
    {
        "name": "project",
        "type": "string",
        "title": "Identifiant du projet",
        "constraints": {"required": True},
    },
    {
        "name": "phase",
        "type": "string",
        "title": "Type de phase",
        "constraints": {"required": True, "enum": list(PhaseKind.values)},
    },
    {"name": "phase_label", "type": "string", "title": "Phase"},
    {
        "name": "kind",
        "type": "string",
        "title": "Nature",
        "constraints": {"required": True, "enum": list(ContributionKind.values)},
    },
    {"name": "kind_label", "type": "string", "title": "Libellé de la nature"},
    {"name": "theme", "type": "string", "title": "Thème (vide : non classé)"},
    {
        "name": "channel",
        "type": "string",
        "title": "Canal",
        "constraints": {"required": True, "enum": list(ContributionChannel.values)},
    },
    {"name": "channel_name", "type": "string", "title": "Libellé du canal"},
    {
        "name": "channel_detail",
        "type": "string",
        "title": "Précision du canal (réunions, ateliers et registres seulement)",
    },
    {
        "name": "supports",
        "type": "integer",
        "title": "Nombre de soutiens",
        "constraints": {"required": True, "minimum": 0},
    },
    {
        "name": "answered",
        "type": "boolean",
        "title": "A reçu une réponse officielle publiée",
        "trueValues": ["true"],
        "falseValues": ["false"],
        "constraints": {"required": True},
    },
    {"name": "first_answer_date", "type": "date", "title": "Date de la première réponse officielle (Paris)"},
    {
        "name": "created_date",
        "type": "date",
        "title": "Déposée le (heure de Paris)",
        "constraints": {"required": True},
    },
    *_lon_lat("d'un point de la forme (ST_PointOnSurface)"),
]

ZONES_FIELD: dict[str, Any] = {
    "name": "zones",
    "type": "string",
    "title": "Zones qui contiennent le point de la contribution, séparées par « ; »",
}

CONTRIBUTIONS = Dataset(
    name="contributions",
    title=_("Contributions aux concertations"),
    description=_(
        "Contributions publiées des projets en concertation, anonymisées : sans titre ni texte, "
        "sans pseudonyme ni auteur ; nature, thème, canal, soutiens, réponse officielle, date du "
        "dépôt ; positions arrondies à 5 décimales (environ 1 m)."
    ),
    primary_key="id",
    fields=CONTRIBUTION_FIELDS,
    rows=contribution_rows,
)


def public_layer_features() -> QuerySet[LayerFeature]:
    """Features of published vector and annotation layers of public projects."""
    return LayerFeature.objects.filter(
        layer__is_published=True,
        layer__kind__in=(LayerKind.VECTOR, LayerKind.ANNOTATION),
        layer__project__status__in=PUBLIC_PROJECT_STATUSES,
    )


def layer_feature_properties(feature: LayerFeature) -> dict[str, Any]:
    """Public fields of a planning feature; ``created_by`` and the layer's files are never read."""
    layer = feature.layer
    return {
        "project": layer.project.slug,
        "layer": layer.slug,
        "layer_name": layer.name,
        "layer_kind": layer.kind,
        "title": feature.title,
        "text": feature.text,
        "attributes": feature.properties or {},
        "geometry_type": feature.geom.geom_type if feature.geom is not None else "",
    }


def _layer_feature_rows() -> Iterator[dict[str, Any]]:
    features = (
        public_layer_features()
        .select_related("layer__project")
        .only(
            "id",
            "geom",
            "title",
            "text",
            "properties",
            "layer__slug",
            "layer__name",
            "layer__kind",
            "layer__project__slug",
        )
        .annotate(
            lon=_X(PointOnSurface("geom")),
            lat=_Y(PointOnSurface("geom")),
            shape=AsGeoJSON("geom", precision=COORDINATE_DECIMALS),
        )
        .order_by("layer__project_id", "layer__position", "layer_id", "pk")
    )
    for feature in features.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": feature.pk,
            **layer_feature_properties(feature),
            "lon": _coordinate(feature.lon),  # type: ignore[attr-defined]
            "lat": _coordinate(feature.lat),  # type: ignore[attr-defined]
            "geometry": _geometry(feature.shape),  # type: ignore[attr-defined]
        }


LAYER_FEATURES = Dataset(
    name="couches-projets",
    title=_("Couches des projets urbains"),
    description=_(
        "Objets des couches publiées des projets (plans, phasage des travaux, annotations de "
        "l'équipe) avec leurs attributs d'origine ; le GeoJSON donne les formes, le CSV un point."
    ),
    primary_key="id",
    fields=[
        {
            "name": "id",
            "type": "integer",
            "title": "Identifiant de l'objet",
            "constraints": {"required": True, "unique": True},
        },
        {
            "name": "project",
            "type": "string",
            "title": "Identifiant du projet",
            "constraints": {"required": True},
        },
        {
            "name": "layer",
            "type": "string",
            "title": "Identifiant de la couche",
            "constraints": {"required": True},
        },
        {"name": "layer_name", "type": "string", "title": "Nom de la couche"},
        {
            "name": "layer_kind",
            "type": "string",
            "title": "Type de couche",
            "constraints": {"enum": [LayerKind.VECTOR.value, LayerKind.ANNOTATION.value]},
        },
        {"name": "title", "type": "string", "title": "Titre (saisi par l'équipe)"},
        {"name": "text", "type": "string", "title": "Texte (saisi par l'équipe)"},
        {"name": "attributes", "type": "object", "title": "Attributs du fichier d'origine (JSON)"},
        {"name": "geometry_type", "type": "string", "title": "Type de géométrie"},
        *_lon_lat("d'un point de l'objet (ST_PointOnSurface)"),
    ],
    rows=_layer_feature_rows,
)

DATASETS: dict[str, Dataset] = {
    dataset.name: dataset for dataset in (REPORTS, PROJECTS, CONTRIBUTIONS, LAYER_FEATURES)
}


# --- Encodings ---------------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
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
    """An RFC 7946 FeatureCollection; ``license`` and ``metadata`` are foreign members.

    A row's ``geometry`` (a GeoJSON dict) is the feature's geometry when present, else the point
    ``lon``/``lat``; properties are the dataset's columns but ``lon``/``lat``.
    """
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
    properties = [c for c in dataset.columns if c not in ("lon", "lat")]
    for row in dataset.rows():
        props = {k: (row[k] if row[k] != "" else None) for k in properties}
        geometry = row.get("geometry") or {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        feature = {
            "type": "Feature",
            "id": row[dataset.primary_key],
            "geometry": geometry,
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


def export_storage() -> Storage:
    """``MEDIA_ROOT/opendata/`` on the filesystem, the public bucket's ``opendata/`` prefix on S3."""
    return storages["opendata"]


def _local_path(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def _write_atomic(storage: Storage, name: str, chunks: Iterable[str], content_type: str) -> None:
    """Replace ``name`` so that readers see the old file or the new one, never half of one.

    On the filesystem: a temporary file in the same directory, fsync, then a rename over the target.
    Elsewhere (S3): spooled to a local temporary file, then one upload to the final key — S3 replaces
    an object atomically (a multipart upload appears only once complete), so no temporary key is
    needed; a failure before the upload leaves the previous object untouched.
    """
    path = _local_path(storage, name)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
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
        return
    with tempfile.TemporaryFile() as spool:
        for chunk in chunks:
            spool.write(chunk.encode("utf-8"))
        spool.seek(0)
        upload = File(spool, name=name)
        upload.content_type = f"{content_type}; charset=utf-8"  # type: ignore[attr-defined]
        saved = storage.save(name, upload)
    if saved != name:  # the storage refused to overwrite: never publish under another name
        storage.delete(saved)
        raise ImproperlyConfigured(f"The open data storage must overwrite {name!r} (file_overwrite).")


def exports_write(storage: Storage | None = None) -> list[str]:
    """Write every dataset in every format, and its Table Schema; the names written."""
    storage = storage or export_storage()
    written = []
    for dataset in DATASETS.values():
        for extension, (media, encode) in FORMATS.items():
            name = f"{dataset.name}.{extension}"
            _write_atomic(storage, name, encode(dataset), media)
            written.append(name)
        schema_name = f"{dataset.name}.schema.json"
        schema = json.dumps(dataset.schema(), ensure_ascii=False, indent=2)
        _write_atomic(storage, schema_name, [schema], "application/json")
        written.append(schema_name)
    return written


def files_of(dataset: Dataset, storage: Storage | None = None) -> list[dict[str, Any]]:
    """The exported files of a dataset that exist: name, format, size, date (UTC) and URL.

    The URL is the storage's: ``MEDIA_URL/opendata/...`` served by nginx, or the public bucket's
    (or its CDN's) absolute URL.
    """
    storage = storage or export_storage()
    out = []
    for extension in (*FORMATS, "schema.json"):
        name = f"{dataset.name}.{extension}"
        try:
            size = storage.size(name)
            modified = storage.get_modified_time(name)
        except FileNotFoundError:
            continue
        if timezone.is_naive(modified):
            modified = timezone.make_aware(modified)
        out.append(
            {
                "name": name,
                "format": extension,
                "size": size,
                "modified_at": _utc(modified.astimezone(UTC)),
                "path": storage.url(name),
            }
        )
    return out
