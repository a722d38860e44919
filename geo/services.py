"""Writes to the territory model: imports of zones, network features and territory outlines.

Each import is one transaction: the whole file is read and checked first (``geo.importers``), then
every value is checked, then rows are written; any refusal raises :class:`ImportFileError` and
nothing stays in the database. ``dry_run`` runs everything, then rolls back, so that a person sees
the exact report of a real run. Re-running an import is an upsert keyed by the file's
``(source, source_id)``, so that a corrected file can be imported again without duplicates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from geo.importers import FeatureRecord, GeometryKind, ImportFileError, LayerRead, format_list, read_layer
from geo.models import Category, NetworkFeature, NetworkLayer, Organisation, Service, Territory, Zone
from geo.srid import STORAGE_SRID, sql_area_m2

__all__ = [
    "ImportFileError",
    "ImportReport",
    "network_import",
    "territory_import",
    "zones_import",
]

_NAME_MAX = 200  # max_length of every name column written here


@dataclass
class ImportReport:
    """What an import did (or would do, with ``dry_run``); commands print :meth:`lines`."""

    kind: str  # "zones", "network" or "territory"
    path: str
    layer: str
    source: str
    crs: str
    features_read: int
    created: int = 0
    updated: int = 0
    deleted: int = 0
    repaired_fids: list[int] = field(default_factory=list)
    services_created: list[str] = field(default_factory=list)
    target: str | None = None  # the network layer or territory written to
    organisation_created: str | None = None
    area_km2: float | None = None
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def repaired(self) -> int:
        return len(self.repaired_fids)

    def lines(self) -> list[str]:
        """The summary in French, one line per fact."""
        what = {
            "zones": _("Zones"),
            "network": _("Tronçons"),
            "territory": _("Territoire"),
        }[self.kind]
        lines = [
            _("Fichier : %(path)s — couche « %(layer)s » (source « %(source)s »)")
            % {"path": self.path, "layer": self.layer, "source": self.source},
            _("Système de coordonnées lu : %(crs)s") % {"crs": self.crs},
            *([_("Destination : %(target)s") % {"target": self.target}] if self.target else []),
            _("Entités lues : %(count)s") % {"count": self.features_read},
            _("%(what)s créé(e)s : %(created)s, mis(es) à jour : %(updated)s, supprimé(e)s : %(deleted)s")
            % {"what": what, "created": self.created, "updated": self.updated, "deleted": self.deleted},
            (
                _("Géométries réparées : %(count)s (entités %(fids)s)")
                % {"count": self.repaired, "fids": format_list(self.repaired_fids)}
                if self.repaired_fids
                else _("Géométries réparées : %(count)s") % {"count": self.repaired}
            ),
        ]
        if self.kind != "territory":
            lines.append(
                _("Services créés : %(names)s")
                % {"names": ", ".join(self.services_created) if self.services_created else _("aucun")}
            )
        if self.organisation_created:
            lines.append(_("Organisation créée : %(name)s") % {"name": self.organisation_created})
        if self.area_km2 is not None:
            lines.append(_("Superficie : %(area).3f km²") % {"area": self.area_km2})
        lines.extend(_("Attention : %(warning)s") % {"warning": warning} for warning in self.warnings)
        if self.dry_run:
            lines.append(_("Simulation (--dry-run) : aucune modification n'a été enregistrée."))
        return lines


# --- Zones -------------------------------------------------------------------------------------


@transaction.atomic
def zones_import(
    *,
    path: str | Path,
    name_field: str,
    service_field: str,
    priority_field: str | None = None,
    priority: int | None = None,
    categories: list[str] | None = None,
    territory: str | None = None,
    organisation: str | None = None,
    layer: str | None = None,
    source_srid: int | None = None,
    id_field: str | None = None,
    dry_run: bool = False,
    replace: bool = False,
) -> ImportReport:
    """Import a polygon layer as zones, upserted by ``(source, source_id)``.

    ``source_id`` is the value of ``id_field`` when given, else the feature id (FID). Give a
    stable identifier field when the file is maintained by hand: a Shapefile's FIDs are row
    numbers, which shift when a row is deleted.

    Services are found (or created) by name under the organisation. Without ``categories`` the
    zones cover every category. ``priority`` is the constant used when there is no
    ``priority_field`` or when its value is empty. With ``replace``, zones of the same source
    that are no longer in the file are deleted.
    """
    required = [name_field, service_field] + [f for f in (priority_field, id_field) if f]
    read = read_layer(
        path, kind=GeometryKind.POLYGON, required_fields=required, layer=layer, source_srid=source_srid
    )
    territory_obj = _territory(territory) if territory else None
    org = _organisation_for(organisation, territory_obj)
    category_rows = _categories(categories)
    default_priority = 0 if priority is None else _integer(priority, _("priorité"))

    name_key, service_key = read.fields[name_field], read.fields[service_field]
    priority_key = read.fields[priority_field] if priority_field else None
    consumed = {name_key, service_key, priority_key}
    keys = _source_ids(read, read.fields[id_field] if id_field else None)

    problems: list[str] = []
    rows: list[tuple[FeatureRecord, str, str, int]] = []
    for record in read.records:
        try:
            name = _text(record, name_key, _("nom"))
            service_name = _text(record, service_key, _("service"))
            zone_priority = default_priority
            if priority_key is not None and record.properties.get(priority_key) is not None:
                zone_priority = _integer(record.properties[priority_key], _("priorité"))
        except ImportFileError as exc:
            problems.append(_("entité %(fid)s : %(reason)s") % {"fid": record.fid, "reason": exc})
            continue
        rows.append((record, name, service_name, zone_priority))
    _refuse_if(problems, read)

    services, created_names = _services(org, [service_name for _r, _n, service_name, _p in rows])
    existing = {zone.source_id: zone for zone in Zone.objects.select_for_update().filter(source=read.source)}
    to_create: list[Zone] = []
    to_update: list[Zone] = []
    for record, name, service_name, zone_priority in rows:
        key = keys[record.fid]
        zone = existing.get(key) or Zone(source=read.source, source_id=key)
        zone.name = name
        zone.geom = record.geometry
        zone.service = services[service_name]
        zone.priority = zone_priority
        zone.all_categories = not category_rows
        zone.attributes = _attributes(record, consumed)
        (to_update if zone.pk else to_create).append(zone)

    Zone.objects.bulk_create(to_create)
    Zone.objects.bulk_update(
        to_update, ["name", "geom", "service", "priority", "all_categories", "attributes"], batch_size=500
    )
    through = Zone.categories.through
    touched = to_create + to_update
    through.objects.filter(zone__in=[zone.pk for zone in to_update]).delete()
    through.objects.bulk_create(
        [through(zone_id=zone.pk, category_id=category.pk) for zone in touched for category in category_rows]
    )

    deleted = 0
    if replace:
        stale = Zone.objects.filter(source=read.source).exclude(source_id__in=[z.source_id for z in touched])
        deleted = _delete(stale, Zone._meta.label)

    report = _report("zones", read, created=len(to_create), updated=len(to_update), deleted=deleted)
    report.services_created = created_names
    if territory_obj is not None:
        report.warnings.extend(_outside_territory(territory_obj, read.records))
    return _finish(report, dry_run)


# --- Network -----------------------------------------------------------------------------------


@transaction.atomic
def network_import(
    *,
    path: str | Path,
    layer_name: str,
    service_field: str,
    name_field: str | None = None,
    tolerance_field: str | None = None,
    tolerance: float | None = None,
    categories: list[str] | None = None,
    organisation: str | None = None,
    layer: str | None = None,
    source_srid: int | None = None,
    id_field: str | None = None,
    dry_run: bool = False,
    replace: bool = False,
) -> ImportReport:
    """Import a line layer into the network layer ``layer_name`` (created if missing).

    ``id_field`` names a stable identifier field, as for :func:`zones_import`.

    ``tolerance`` sets the layer's default tolerance; ``tolerance_field`` gives a per-feature one.
    ``categories``, when given, replace the categories the layer decides for. Features are
    upserted by ``(layer, source, source_id)``; with ``replace``, those of the same source that are
    no longer in the file are deleted.
    """
    required = [service_field] + [f for f in (name_field, tolerance_field, id_field) if f]
    read = read_layer(
        path, kind=GeometryKind.LINE, required_fields=required, layer=layer, source_srid=source_srid
    )
    org = _organisation_for(organisation, None)
    category_rows = _categories(categories)
    layer_label = layer_name.strip()
    if not layer_label or len(layer_label) > _NAME_MAX:
        raise ImportFileError(_("Le nom de la couche réseau doit faire de 1 à 200 caractères."))
    default_tolerance = None if tolerance is None else _tolerance(tolerance)

    service_key = read.fields[service_field]
    name_key = read.fields[name_field] if name_field else None
    tolerance_key = read.fields[tolerance_field] if tolerance_field else None
    consumed = {service_key, name_key, tolerance_key}
    keys = _source_ids(read, read.fields[id_field] if id_field else None)

    problems: list[str] = []
    rows: list[tuple[FeatureRecord, str, str, float | None]] = []
    for record in read.records:
        try:
            service_name = _text(record, service_key, _("service"))
            name = _text(record, name_key, _("nom"), required=False) if name_key else ""
            value = record.properties.get(tolerance_key) if tolerance_key else None
            feature_tolerance = None if value is None else _tolerance(value)
        except ImportFileError as exc:
            problems.append(_("entité %(fid)s : %(reason)s") % {"fid": record.fid, "reason": exc})
            continue
        rows.append((record, service_name, name, feature_tolerance))
    _refuse_if(problems, read)

    network_layer, layer_created = NetworkLayer.objects.get_or_create(
        name=layer_label, defaults={"default_tolerance_m": default_tolerance or 10.0}
    )
    if not layer_created and default_tolerance is not None:
        network_layer.default_tolerance_m = default_tolerance
        network_layer.save(update_fields=["default_tolerance_m"])
    if categories is not None:
        network_layer.categories.set(category_rows)

    services, created_names = _services(org, [service_name for _r, service_name, _n, _t in rows])
    existing = {
        feature.source_id: feature
        for feature in NetworkFeature.objects.select_for_update().filter(
            layer=network_layer, source=read.source
        )
    }
    to_create: list[NetworkFeature] = []
    to_update: list[NetworkFeature] = []
    for record, service_name, name, feature_tolerance in rows:
        key = keys[record.fid]
        feature = existing.get(key) or NetworkFeature(layer=network_layer, source=read.source, source_id=key)
        feature.name = name
        feature.geom = record.geometry
        feature.service = services[service_name]
        feature.tolerance_m = feature_tolerance
        feature.attributes = _attributes(record, consumed)
        (to_update if feature.pk else to_create).append(feature)
    NetworkFeature.objects.bulk_create(to_create)
    NetworkFeature.objects.bulk_update(
        to_update, ["name", "geom", "service", "tolerance_m", "attributes"], batch_size=500
    )

    deleted = 0
    if replace:
        kept = [feature.source_id for feature in to_create + to_update]
        stale = NetworkFeature.objects.filter(layer=network_layer, source=read.source).exclude(
            source_id__in=kept
        )
        deleted = _delete(stale, NetworkFeature._meta.label)

    report = _report("network", read, created=len(to_create), updated=len(to_update), deleted=deleted)
    report.services_created = created_names
    report.target = layer_label
    if layer_created:
        report.warnings.append(_("Couche réseau « %(name)s » créée.") % {"name": layer_label})
    if not network_layer.categories.exists():
        report.warnings.append(
            _("La couche réseau « %(name)s » n'est liée à aucune catégorie : elle ne décide d'aucun routage.")
            % {"name": layer_label}
        )
    return _finish(report, dry_run)


# --- Territory ---------------------------------------------------------------------------------


@transaction.atomic
def territory_import(
    *,
    path: str | Path,
    name: str,
    slug: str,
    organisation: str,
    organisation_kind: str = Organisation.Kind.COMMUNE,
    layer: str | None = None,
    source_srid: int | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update (by ``slug``) a territory whose outline is the union of every polygon of the file.

    Communes are often delivered as one polygon per IRIS or per section: dissolving them here
    spares a GIS round-trip. The organisation is created when missing.
    """
    name, org_name = name.strip(), organisation.strip()
    if not name or len(name) > _NAME_MAX:
        raise ImportFileError(_("Le nom du territoire doit faire de 1 à 200 caractères."))
    if not org_name or len(org_name) > _NAME_MAX:
        raise ImportFileError(_("Le nom de l'organisation doit faire de 1 à 200 caractères."))
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise ImportFileError(
            _(
                "Identifiant « %(slug)s » invalide : lettres non accentuées, chiffres, « - » et « _ » seulement."
            )
            % {"slug": slug}
        ) from exc
    if organisation_kind not in Organisation.Kind.values:
        raise ImportFileError(
            _("Type d'organisation « %(kind)s » inconnu. Types possibles : %(kinds)s.")
            % {"kind": organisation_kind, "kinds": ", ".join(Organisation.Kind.values)}
        )
    read = read_layer(path, kind=GeometryKind.POLYGON, layer=layer, source_srid=source_srid)
    outline = _dissolve(record.geometry for record in read.records)

    org, org_created = Organisation.objects.get_or_create(name=org_name, defaults={"kind": organisation_kind})
    report = _report("territory", read)
    if org_created:
        report.organisation_created = org.name
    elif org.kind != organisation_kind:
        report.warnings.append(
            _("L'organisation « %(name)s » existe déjà avec le type « %(kind)s » ; il n'a pas été modifié.")
            % {"name": org.name, "kind": Organisation.Kind(org.kind).label}
        )
    if Territory.objects.filter(name=name).exclude(slug=slug).exists():
        raise ImportFileError(
            _("Un autre territoire s'appelle déjà « %(name)s » (identifiant différent de « %(slug)s »).")
            % {"name": name, "slug": slug}
        )
    territory_obj, created = Territory.objects.update_or_create(
        slug=slug, defaults={"name": name, "organisation": org, "geom": outline}
    )
    report.created, report.updated = (1, 0) if created else (0, 1)
    report.target = f"{territory_obj.name} ({territory_obj.slug})"
    with connection.cursor() as cursor:  # geodesic m², as every metric figure (geo.srid)
        cursor.execute(f"SELECT {sql_area_m2('ST_GeomFromEWKB(%s)')}", [bytes(outline.ewkb)])
        (area_m2,) = cursor.fetchone()
    report.area_km2 = area_m2 / 1_000_000
    if len(outline) > 1:
        report.warnings.append(
            _("Le contour obtenu compte %(count)s parties disjointes.") % {"count": len(outline)}
        )
    return _finish(report, dry_run)


# --- Helpers -----------------------------------------------------------------------------------


def _report(
    kind: str, read: LayerRead, *, created: int = 0, updated: int = 0, deleted: int = 0
) -> ImportReport:
    return ImportReport(
        kind=kind,
        path=str(read.path),
        layer=read.layer_name,
        source=read.source,
        crs=read.crs,
        features_read=len(read.records),
        repaired_fids=list(read.repaired_fids),
        warnings=list(read.warnings),
        created=created,
        updated=updated,
        deleted=deleted,
    )


def _finish(report: ImportReport, dry_run: bool) -> ImportReport:
    """Mark the enclosing ``atomic`` block for rollback on a dry run: the report stays, the rows go."""
    if dry_run:
        transaction.set_rollback(True)
        report.dry_run = True
    return report


def _source_ids(read: LayerRead, id_key: str | None) -> dict[int, str]:
    """Each feature's upsert key: its ``id_key`` value, else its FID; empty or repeated values refuse the file."""
    if id_key is None:
        return {record.fid: str(record.fid) for record in read.records}
    keys: dict[int, str] = {}
    seen: dict[str, int] = {}
    problems: list[str] = []
    for record in read.records:
        value = record.properties.get(id_key)
        key = "" if value is None else str(value).strip()
        if not key:
            problems.append(
                _("entité %(fid)s : identifiant vide (champ « %(field)s »)")
                % {"fid": record.fid, "field": id_key}
            )
        elif key in seen:
            problems.append(
                _("entité %(fid)s : identifiant « %(key)s » déjà utilisé par l'entité %(other)s")
                % {"fid": record.fid, "key": key, "other": seen[key]}
            )
        else:
            seen[key] = record.fid
            keys[record.fid] = key
    _refuse_if(problems, read)
    return keys


def _refuse_if(problems: list[str], read: LayerRead) -> None:
    if problems:
        raise ImportFileError(
            _(
                "Import refusé, aucune donnée n'a été importée. Entités en erreur dans « %(layer)s » : %(list)s"
            )
            % {"layer": read.layer_name, "list": format_list(problems)}
        )


def _territory(value: str) -> Territory:
    """A territory by slug, else by name."""
    found = Territory.objects.filter(slug=value).first() or Territory.objects.filter(name=value).first()
    if found is None:
        raise ImportFileError(
            _("Territoire inconnu : « %(value)s » (ni identifiant ni nom).") % {"value": value}
        )
    return found


def _organisation_for(name: str | None, territory: Territory | None) -> Organisation:
    """The explicit organisation, else the territory's, else the only one there is."""
    if name:
        try:
            return Organisation.objects.get(name=name.strip())
        except Organisation.DoesNotExist:
            raise ImportFileError(_("Organisation inconnue : « %(name)s ».") % {"name": name}) from None
    if territory is not None:
        return territory.organisation
    organisations = list(Organisation.objects.all()[:2])
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise ImportFileError(
            _("Aucune organisation n'existe : créez-en une ou importez d'abord un territoire.")
        )
    raise ImportFileError(
        _("Plusieurs organisations existent : précisez laquelle (option --organisation ou --territory).")
    )


def _categories(codes: Sequence[str] | None) -> list[Category]:
    """Category rows for the given codes, refusing unknown ones (all of them listed)."""
    wanted = [code.strip() for code in codes or [] if code.strip()]
    rows = list(Category.objects.filter(code__in=wanted))
    unknown = sorted(set(wanted) - {row.code for row in rows})
    if unknown:
        raise ImportFileError(_("Catégorie(s) inconnue(s) : %(codes)s.") % {"codes": ", ".join(unknown)})
    return rows


def _services(org: Organisation, names: Iterable[str]) -> tuple[dict[str, Service], list[str]]:
    """The organisation's services by name, creating the missing ones (their names are returned)."""
    wanted = sorted(set(names))
    services = {
        service.name: service for service in Service.objects.filter(organisation=org, name__in=wanted)
    }
    created = [name for name in wanted if name not in services]
    for name in created:
        services[name] = Service.objects.create(organisation=org, name=name)
    return services, created


def _text(record: FeatureRecord, key: str, label: str, *, required: bool = True) -> str:
    value = record.properties.get(key)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ImportFileError(_("%(label)s vide (champ « %(field)s »)") % {"label": label, "field": key})
    if len(text) > _NAME_MAX:
        raise ImportFileError(
            _("%(label)s trop long (plus de %(max)s caractères, champ « %(field)s »)")
            % {"label": label, "max": _NAME_MAX, "field": key}
        )
    return text


def _integer(value: Any, label: str) -> int:
    """An integer from a file value; ``2.0`` (Shapefile stores numbers as reals) is accepted, ``2.5`` not."""
    if isinstance(value, bool):
        raise ImportFileError(_("%(label)s invalide : « %(value)s »") % {"label": label, "value": value})
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or abs(number) > 2**31 - 1:
        raise ImportFileError(
            _("%(label)s invalide : « %(value)s » n'est pas un nombre entier")
            % {"label": label, "value": value}
        )
    return int(number)


def _tolerance(value: Any) -> float:
    try:
        number = float(str(value).strip().replace(",", ".")) if not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ImportFileError(
            _("tolérance invalide : « %(value)s » (un nombre de mètres positif ou nul est attendu)")
            % {"value": value}
        )
    return number


def _attributes(record: FeatureRecord, consumed: set[str | None]) -> dict[str, Any]:
    """The fields not already mapped to a column, kept for display and later re-imports."""
    return {key: value for key, value in record.properties.items() if key not in consumed}


def _delete(queryset: Any, label: str) -> int:
    try:
        _total, per_model = queryset.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise ImportFileError(
            _("Suppression impossible (--replace) : des données y font référence (%(count)s objet(s)).")
            % {
                "count": len(
                    exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
                )
            }
        ) from exc
    return int(per_model.get(label, 0))


def _dissolve(geometries: Iterable[GEOSGeometry]) -> MultiPolygon:
    """GEOS unary union of every polygon, as a MultiPolygon (what ``Territory.geom`` stores)."""
    polygons = [polygon for geometry in geometries for polygon in geometry]  # type: ignore[attr-defined]
    union = MultiPolygon(*polygons, srid=STORAGE_SRID).unary_union
    result = MultiPolygon(union, srid=STORAGE_SRID) if isinstance(union, Polygon) else union
    if not isinstance(result, MultiPolygon):  # a union of polygons is polygonal; guard the type anyway
        raise ImportFileError(_("L'union des polygones n'est pas surfacique."))
    result.srid = STORAGE_SRID
    return result


def _outside_territory(territory: Territory, records: Sequence[FeatureRecord]) -> list[str]:
    prepared = territory.geom.prepared
    outside = [record.fid for record in records if not prepared.intersects(record.geometry)]
    if not outside:
        return []
    return [
        _("%(count)s zone(s) hors du territoire « %(territory)s » (entités %(fids)s).")
        % {"count": len(outside), "territory": territory.name, "fids": format_list(outside)}
    ]
