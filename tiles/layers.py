"""The declared vector layers: what each shows, to whom (public fields only), at which zooms, how much.

A layer is data, not code: its SQL source, its geometry column (storage SRID, GiST-indexed), a
whitelist of public fields with their types, a zoom range, a feature cap per tile, a simplification
tolerance per zoom, the aggregation of dense points at low zooms, its query-string filters, and
the tables whose writes change its data version (the tiles migrations install statement-level
triggers on them; ``tests/tiles`` checks that each declared table has one). Adding a layer (as
the urbanisme app's project perimeters, contributions and planning layers below) is one
:func:`register` call plus a migration with :func:`tiles.versioning.triggers_sql` for its tables
(``tiles/migrations/0002_urbanisme_layers.py``).

No personal data may appear in ``fields``: ``signalements_reportcontact`` (names, e-mails, phones)
and ``urbanisme_contributionauthor`` are never joined, and neither is a contribution's pseudonym.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from geo.srid import tile_width_m
from tiles import filters
from tiles.errors import TileError
from tiles.filters import Filter
from tiles.tilemath import MAX_ZOOM
from urbanisme.models import ContributionKind, LayerKind, ProjectStatus, Visibility
from urbanisme.phases import CALENDAR_TZ

# Bump when the SQL built from declarations changes shape: it changes every ETag and cache key.
RENDER_REVISION = 1
# The budget: no tile of a declared layer above this many bytes (tests/tiles checks it).
TILE_BUDGET_BYTES = 500 * 1024
FIELD_TYPES = ("String", "Number", "Boolean")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# Names taken by the URL scheme: /tiles/raster/... serves raster tiles.
RESERVED_NAMES = frozenset({"raster"})
# What tiles.sql binds itself (kept here, since tiles.sql imports this module).
STATEMENT_PARAMETERS = frozenset(
    {"z", "x", "y", "mvt_layer", "tz", "day", "margin", "cap", "tolerance", "cells", "i0", "i1", "j0", "j1"}
)


@dataclass(frozen=True)
class Field:
    """A public attribute of the features: ``sql`` is evaluated over the layer's ``source``."""

    name: str
    sql: str
    type: str
    description: str | Promise = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: type must be one of {FIELD_TYPES}")


@dataclass(frozen=True)
class Cluster:
    """Aggregate points into grid cells up to ``maxzoom``: one feature per cell with ``count``.

    Cells are ``cell_px`` pixels of a 256-pixel tile, aligned on tile edges (so each point belongs to
    exactly one tile and one cell, and counts add up across tiles); the feature is the cell's mean
    position, which lies inside the cell.
    """

    maxzoom: int
    cell_px: int = 16

    def __post_init__(self) -> None:
        if self.cell_px not in (1, 2, 4, 8, 16, 32, 64, 128, 256):
            raise ValueError("cell_px must divide 256 (a power of two)")

    @property
    def cells_per_tile(self) -> int:
        return 256 // self.cell_px


@dataclass(frozen=True, eq=False)
class VectorLayer:
    """A declared layer; compared and hashed by identity (it keys the cache of built statements)."""

    name: str
    title: str | Promise
    source: str
    geom: str
    fields: tuple[Field, ...]
    sources: tuple[str, ...]
    description: str | Promise = ""
    where: str = "TRUE"
    order_by: str = ""
    minzoom: int = 0
    maxzoom: int = 16
    feature_cap: int = 5000
    simplify_px: float = 0.0
    cluster: Cluster | None = None
    filters: tuple[Filter, ...] = ()
    extent: int = 4096
    buffer: int = 64
    # SQL returning one box2d in the storage SRID for TileJSON ``bounds``; empty: the territories'.
    bounds_sql: str = ""
    # SQL of a jsonb object whose entries become properties too (ST_AsMVT expands jsonb columns;
    # null, object and array values are dropped): for layers whose source attributes are public
    # by construction, such as the planning layers a project team imports to be shown on click.
    # It must leave out the declared field names.
    attributes_sql: str = ""
    # A time zone when the features depend on the calendar day there (the current phase of a
    # project): the statement binds ``%(day)s`` and the day is part of the ETag and cache key,
    # since no write happens at midnight to change the data version.
    calendar_tz: str = ""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name) or self.name in RESERVED_NAMES:
            raise ValueError(f"invalid tile layer name: {self.name!r}")
        if not 0 <= self.minzoom <= self.maxzoom <= MAX_ZOOM:
            raise ValueError(f"layer {self.name}: zoom range must be within 0..{MAX_ZOOM}")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names) or "geom" in names:
            raise ValueError(f"layer {self.name}: field names must be unique and not 'geom'")
        if self.cluster and "count" in names:
            raise ValueError(f"layer {self.name}: 'count' is the clusters' field")
        taken = {f.name for f in self.filters} & STATEMENT_PARAMETERS
        if taken:
            raise ValueError(
                f"layer {self.name}: filter names {sorted(taken)} are the statement's parameters"
            )

    def today(self) -> date | None:
        """The calendar day the tiles are drawn for (``None`` unless ``calendar_tz`` is set)."""
        return datetime.now(ZoneInfo(self.calendar_tz)).date() if self.calendar_tz else None

    def tolerance_m(self, z: int) -> float:
        """Simplification tolerance at zoom ``z`` in tile-SRID metres (``simplify_px`` pixels of 256)."""
        return self.simplify_px * tile_width_m(z) / 256

    def clustered(self, z: int) -> bool:
        return self.cluster is not None and z <= self.cluster.maxzoom

    def check_zoom(self, z: int) -> None:
        if not self.minzoom <= z <= self.maxzoom:
            raise TileError(
                "zoom_hors_couche",
                _("La couche « %(name)s » n'a de tuiles qu'aux zooms %(min)d à %(max)d.")
                % {"name": self.name, "min": self.minzoom, "max": self.maxzoom},
            )

    def parse_filters(self, query: QueryDict) -> dict[str, Any]:
        """Declared filters present in the query string, validated; other parameters are ignored."""
        parsed: dict[str, Any] = {}
        for f in self.filters:
            if raw := query.get(f.name):
                parsed[f.name] = f.parse(raw)
        return parsed

    @cached_property
    def fingerprint(self) -> str:
        """Changes with anything that changes the bytes of a tile: part of every ETag and cache key."""
        parts = (
            RENDER_REVISION,
            self.source,
            self.geom,
            self.where,
            self.order_by,
            self.feature_cap,
            self.simplify_px,
            self.cluster,
            self.extent,
            self.buffer,
            tuple((f.name, f.sql, f.type) for f in self.fields),
            tuple((f.name, f.sql) for f in self.filters),
            # Only when set, so that the ETags of layers without them stay what they were.
            *((self.attributes_sql,) if self.attributes_sql else ()),
            *((self.calendar_tz,) if self.calendar_tz else ()),
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


_REGISTRY: dict[str, VectorLayer] = {}


def register(layer: VectorLayer) -> VectorLayer:
    _REGISTRY[layer.name] = layer
    return layer


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> VectorLayer:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TileError(
            "couche_inconnue",
            _("Couche inconnue : « %(name)s » (couches : %(all)s).")
            % {"name": name, "all": ", ".join(sorted(_REGISTRY))},
        ) from None


def all_layers() -> list[VectorLayer]:
    return sorted(_REGISTRY.values(), key=lambda layer: layer.name)


def _date(expr: str) -> str:
    """A timestamp as a local calendar date (``AAAA-MM-JJ``, the site's time zone), text for MVT."""
    return f"to_char(({expr}) AT TIME ZONE %(tz)s, 'YYYY-MM-DD')"


def _ticket(column: str) -> str:
    return f"(SELECT {column} FROM signalements_ticket t WHERE t.report_id = r.id)"


# --- The declared layers -------------------------------------------------------------------------

REPORTS = register(
    VectorLayer(
        name="reports",
        title=gettext_lazy("Signalements"),
        description=gettext_lazy(
            "Signalements publiés (champs publics). Jusqu'au zoom 14, regroupés par cellule avec « count »."
        ),
        # LEFT JOINs on unique keys: PostgreSQL drops them when a query reads none of their columns
        # (clusters scan the reports alone). Ticket fields are scalar subqueries, which PostgreSQL
        # evaluates after the sort and the cap: one ticket lookup per drawn feature, not per candidate.
        source=(
            "signalements_report r"
            " LEFT JOIN geo_category c ON c.id = r.category_id"
            " LEFT JOIN geo_category cp ON cp.id = c.parent_id"
        ),
        geom="r.location",
        where="r.published",
        order_by="r.created_at DESC, r.id DESC",
        fields=(
            Field("reference", "r.reference", "String", gettext_lazy("référence publique du signalement")),
            Field("category", "c.code", "String", gettext_lazy("code de la catégorie")),
            Field("category_parent", "cp.code", "String", gettext_lazy("code de la catégorie parente")),
            Field("status", _ticket("t.state"), "String", gettext_lazy("état du ticket (nouveau, resolu…)")),
            Field("created_at", _date("r.created_at"), "String", gettext_lazy("date de dépôt (AAAA-MM-JJ)")),
            Field(
                "closed_at",
                _date(_ticket("t.closed_at")),
                "String",
                gettext_lazy("date de clôture (AAAA-MM-JJ)"),
            ),
            Field(
                "support_count",
                "(SELECT count(*) FROM signalements_support s WHERE s.report_id = r.id)::int",
                "Number",
                gettext_lazy("nombre de soutiens"),
            ),
        ),
        filters=(
            Filter(
                "category",
                "r.category_id = ANY(%(category)s)",
                filters.category_ids,
                gettext_lazy(
                    "codes de catégories séparés par des virgules (une parente inclut ses sous-catégories)"
                ),
            ),
            Filter(
                "status",
                "EXISTS (SELECT 1 FROM signalements_ticket t WHERE t.report_id = r.id AND t.state = ANY(%(status)s))",
                filters.ticket_states,
                gettext_lazy("états séparés par des virgules"),
            ),
            Filter(
                "created_after",
                "r.created_at >= %(created_after)s",
                filters.day_start("created_after"),
                gettext_lazy("déposés ce jour-là ou après (AAAA-MM-JJ)"),
            ),
            Filter(
                "created_before",
                "r.created_at < %(created_before)s",
                filters.day_end("created_before"),
                gettext_lazy("déposés ce jour-là ou avant (AAAA-MM-JJ)"),
            ),
        ),
        sources=("signalements_report", "signalements_ticket", "signalements_support", "geo_category"),
        minzoom=0,
        maxzoom=16,
        feature_cap=5000,
        cluster=Cluster(maxzoom=14, cell_px=16),
    )
)

ZONES = register(
    VectorLayer(
        name="zones",
        title=gettext_lazy("Zones de compétence"),
        description=gettext_lazy(
            "Zones où un service est compétent (carte de couverture, couleur par service)."
        ),
        source="geo_zone z JOIN geo_service s ON s.id = z.service_id",
        geom="z.geom",
        order_by="z.priority, z.id",
        fields=(
            Field("id", "z.id", "Number", gettext_lazy("identifiant de la zone")),
            Field("name", "z.name", "String", gettext_lazy("nom de la zone")),
            Field("service_id", "s.id", "Number", gettext_lazy("identifiant du service compétent")),
            Field("service", "s.name", "String", gettext_lazy("nom du service compétent")),
            Field("priority", "z.priority", "Number", gettext_lazy("priorité (la plus haute l'emporte)")),
            Field(
                "all_categories",
                "z.all_categories",
                "Boolean",
                gettext_lazy("compétente pour toutes les catégories"),
            ),
            Field(
                "categories",
                "(SELECT string_agg(zc_c.code, ',' ORDER BY zc_c.code) FROM geo_zone_categories zc"
                " JOIN geo_category zc_c ON zc_c.id = zc.category_id WHERE zc.zone_id = z.id)",
                "String",
                gettext_lazy("codes des catégories, séparés par des virgules"),
            ),
            Field(
                "valid_from", "z.valid_from::text", "String", gettext_lazy("valide à partir du (AAAA-MM-JJ)")
            ),
            Field(
                "valid_until", "z.valid_until::text", "String", gettext_lazy("valide jusqu'au (AAAA-MM-JJ)")
            ),
        ),
        sources=("geo_zone", "geo_zone_categories", "geo_service", "geo_category"),
        minzoom=5,
        maxzoom=16,
        feature_cap=5000,
        simplify_px=0.5,
        bounds_sql="SELECT ST_Extent(geom) FROM geo_zone",
    )
)

TERRITORIES = register(
    VectorLayer(
        name="territories",
        title=gettext_lazy("Territoires"),
        description=gettext_lazy("Contours des territoires desservis."),
        source="geo_territory te JOIN geo_organisation o ON o.id = te.organisation_id",
        geom="te.geom",
        order_by="te.id",
        fields=(
            Field("id", "te.id", "Number", gettext_lazy("identifiant du territoire")),
            Field("name", "te.name", "String", gettext_lazy("nom du territoire")),
            Field("slug", "te.slug", "String", gettext_lazy("identifiant public (jurisdiction_id)")),
            Field("organisation", "o.name", "String", gettext_lazy("organisation responsable")),
        ),
        sources=("geo_territory", "geo_organisation"),
        minzoom=0,
        maxzoom=14,
        feature_cap=1000,
        simplify_px=0.5,
    )
)

NETWORK = register(
    VectorLayer(
        name="network",
        title=gettext_lazy("Réseaux"),
        description=gettext_lazy("Tronçons des couches réseau (voirie…), avec leur service gestionnaire."),
        source=(
            "geo_networkfeature nf JOIN geo_networklayer nl ON nl.id = nf.layer_id"
            " JOIN geo_service ns ON ns.id = nf.service_id"
        ),
        geom="nf.geom",
        order_by="nf.id",
        fields=(
            Field("id", "nf.id", "Number", gettext_lazy("identifiant du tronçon")),
            Field("name", "nf.name", "String", gettext_lazy("nom du tronçon")),
            Field("layer_id", "nl.id", "Number", gettext_lazy("identifiant de la couche réseau")),
            Field("layer", "nl.name", "String", gettext_lazy("nom de la couche réseau")),
            Field("service_id", "ns.id", "Number", gettext_lazy("identifiant du service gestionnaire")),
            Field("service", "ns.name", "String", gettext_lazy("nom du service gestionnaire")),
        ),
        sources=("geo_networkfeature", "geo_networklayer", "geo_service"),
        minzoom=10,
        maxzoom=16,
        feature_cap=10000,
        simplify_px=0.5,
        bounds_sql="SELECT ST_Extent(geom) FROM geo_networkfeature",
    )
)


# --- Concertation (urbanisme) ------------------------------------------------------------------
# Public only: published projects; published contributions of published projects, without any
# author data (not even the pseudonym: ``urbanisme_contributionauthor`` is never joined); the
# features of published planning layers of published projects.

_PUBLISHED_PROJECT = f"p.status = '{ProjectStatus.PUBLISHED.value}'"

PROJECTS = register(
    VectorLayer(
        name="projects",
        title=gettext_lazy("Projets en concertation"),
        description=gettext_lazy("Périmètres des projets publiés, avec leur phase en cours."),
        source="urbanisme_project p",
        geom="p.perimeter",
        where=_PUBLISHED_PROJECT,
        order_by="p.id",
        fields=(
            Field("slug", "p.slug", "String", gettext_lazy("identifiant public du projet")),
            Field("title", "p.title", "String", gettext_lazy("titre du projet")),
            Field("status", "p.status", "String", gettext_lazy("statut du projet (publie)")),
            Field(
                "phase",
                # Phases never overlap (an exclusion constraint), so at most one row matches.
                "(SELECT ph.kind FROM urbanisme_phase ph WHERE ph.project_id = p.id"
                " AND ph.start_date <= %(day)s AND ph.end_date >= %(day)s LIMIT 1)",
                "String",
                gettext_lazy("type de la phase en cours (concertation_prealable, enquete_publique…)"),
            ),
        ),
        sources=("urbanisme_project", "urbanisme_phase"),
        calendar_tz=str(CALENDAR_TZ),
        minzoom=0,
        maxzoom=16,
        feature_cap=2000,
        simplify_px=0.5,
        filters=(
            Filter(
                "project",
                "p.slug = ANY(%(project)s)",
                filters.slugs("project"),
                gettext_lazy("identifiants publics de projets, séparés par des virgules"),
            ),
        ),
        bounds_sql=f"SELECT ST_Extent(perimeter) FROM urbanisme_project p WHERE {_PUBLISHED_PROJECT}",
    )
)

CONTRIBUTIONS = register(
    VectorLayer(
        name="contributions",
        title=gettext_lazy("Contributions"),
        description=gettext_lazy(
            "Contributions publiées des projets publics (points, lignes ou polygones) ; "
            "ni auteur ni pseudonyme."
        ),
        source=(
            "urbanisme_contribution c"
            " JOIN urbanisme_project p ON p.id = c.project_id"
            " LEFT JOIN urbanisme_theme th ON th.id = c.theme_id"
        ),
        geom="c.geom",
        where=f"c.visibility = '{Visibility.PUBLISHED.value}' AND {_PUBLISHED_PROJECT}",
        order_by="c.created_at DESC, c.id DESC",
        fields=(
            Field("id", "c.id", "Number", gettext_lazy("identifiant de la contribution")),
            Field("project", "p.slug", "String", gettext_lazy("identifiant public du projet")),
            Field("kind", "c.kind", "String", gettext_lazy("nature (idee, question, inquietude…)")),
            Field("theme", "th.name", "String", gettext_lazy("thème")),
            Field("supports_count", "c.supports_count", "Number", gettext_lazy("nombre de soutiens")),
            Field("created_at", _date("c.created_at"), "String", gettext_lazy("date de dépôt (AAAA-MM-JJ)")),
            Field(
                "is_answered",
                "EXISTS (SELECT 1 FROM urbanisme_reply rp WHERE rp.contribution_id = c.id"
                f" AND rp.is_official AND rp.visibility = '{Visibility.PUBLISHED.value}')",
                "Boolean",
                gettext_lazy("a reçu une réponse officielle de l'équipe du projet"),
            ),
        ),
        filters=(
            Filter(
                "project",
                "p.slug = ANY(%(project)s)",
                filters.slugs("project"),
                gettext_lazy("identifiants publics de projets, séparés par des virgules"),
            ),
            Filter(
                "kind",
                "c.kind = ANY(%(kind)s)",
                filters.choices("kind", ContributionKind.values),
                gettext_lazy("natures séparées par des virgules"),
            ),
        ),
        sources=("urbanisme_contribution", "urbanisme_project", "urbanisme_theme", "urbanisme_reply"),
        minzoom=8,
        maxzoom=16,
        feature_cap=5000,
        simplify_px=0.5,
        bounds_sql=(
            "SELECT ST_Extent(c.geom) FROM urbanisme_contribution c"
            " JOIN urbanisme_project p ON p.id = c.project_id"
            f" WHERE c.visibility = '{Visibility.PUBLISHED.value}' AND {_PUBLISHED_PROJECT}"
        ),
    )
)

# Declared fields of the planning layer: an imported attribute with one of these names is left out
# of the tile (it stays in the API's GeoJSON).
_PLANNING_FIELDS = (
    Field("id", "lf.id", "Number", gettext_lazy("identifiant de l'objet")),
    Field("layer_id", "l.id", "Number", gettext_lazy("identifiant de la couche")),
    Field(
        "layer",
        "l.slug",
        "String",
        gettext_lazy("identifiant de la couche dans le projet : la clé de son style (API « couches »)"),
    ),
    Field("layer_name", "l.name", "String", gettext_lazy("nom de la couche")),
    Field("project", "p.slug", "String", gettext_lazy("identifiant public du projet")),
    Field("kind", "l.kind", "String", gettext_lazy("vector (import) ou annotation (dessin de l'équipe)")),
    Field("title", "nullif(lf.title, '')", "String", gettext_lazy("titre (annotations)")),
    Field("text", "nullif(lf.text, '')", "String", gettext_lazy("texte (annotations)")),
    Field(
        "label",
        f"CASE WHEN l.kind = '{LayerKind.ANNOTATION.value}' THEN nullif(lf.title, '')"
        " ELSE lf.properties ->> (l.style ->> 'label_field') END",
        "String",
        gettext_lazy("étiquette : valeur du champ choisi dans le style (le titre pour les annotations)"),
    ),
    Field("color", "l.style ->> 'color'", "String", gettext_lazy("couleur du trait (#rrggbb)")),
    Field("fill_color", "l.style ->> 'fill_color'", "String", gettext_lazy("couleur de remplissage")),
    Field("weight", "(l.style ->> 'weight')::float", "Number", gettext_lazy("épaisseur du trait (px)")),
    Field("opacity", "(l.style ->> 'opacity')::float", "Number", gettext_lazy("opacité du trait (0–1)")),
    Field(
        "fill_opacity",
        "(l.style ->> 'fill_opacity')::float",
        "Number",
        gettext_lazy("opacité du remplissage (0–1)"),
    ),
)

PLANNING = register(
    VectorLayer(
        name="planning",
        title=gettext_lazy("Couches des projets"),
        description=gettext_lazy(
            "Objets des couches publiées des projets (imports et annotations de l'équipe), avec leur "
            "style et les attributs du fichier importé."
        ),
        source=(
            "urbanisme_layerfeature lf"
            " JOIN urbanisme_layer l ON l.id = lf.layer_id"
            " JOIN urbanisme_project p ON p.id = l.project_id"
        ),
        geom="lf.geom",
        where=f"l.is_published AND {_PUBLISHED_PROJECT}",
        order_by="l.position, l.id, lf.id",
        fields=_PLANNING_FIELDS,
        # Nested values (lists) become their JSON text, since MVT values are scalars.
        attributes_sql=(
            "(SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) IN ('object', 'array')"
            " THEN to_jsonb(v::text) ELSE v END) FROM jsonb_each(lf.properties) e(k, v)"
            " WHERE k <> ALL(ARRAY[{}]))".format(", ".join(f"'{f.name}'" for f in _PLANNING_FIELDS))
        ),
        filters=(
            Filter(
                "layer",
                "l.id = ANY(%(layer)s)",
                filters.integers("layer"),
                gettext_lazy("identifiants de couches, séparés par des virgules"),
            ),
            Filter(
                "project",
                "p.slug = ANY(%(project)s)",
                filters.slugs("project"),
                gettext_lazy("identifiants publics de projets, séparés par des virgules"),
            ),
        ),
        sources=("urbanisme_layerfeature", "urbanisme_layer", "urbanisme_project"),
        minzoom=8,
        maxzoom=16,
        feature_cap=10000,
        simplify_px=0.5,
        bounds_sql=(
            "SELECT ST_Extent(lf.geom) FROM urbanisme_layerfeature lf"
            " JOIN urbanisme_layer l ON l.id = lf.layer_id"
            " JOIN urbanisme_project p ON p.id = l.project_id"
            f" WHERE l.is_published AND {_PUBLISHED_PROJECT}"
        ),
    )
)
