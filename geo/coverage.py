"""Coverage checks: where a category has no service, and where equal rules of two services overlap.

An administrator runs these before going live and after each import: a gap means reports there
would be refused (« aucun service compétent »), and an equal-priority overlap means the router
falls back to "the smallest zone wins", which is seldom what anyone meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import connection
from django.utils import timezone

from geo.models import Category, DefaultService, Territory
from geo.srid import sql_area_m2, sql_geography

# Slivers left by imports whose polygons do not share exact vertices are not gaps.
DEFAULT_MIN_AREA_M2 = 10.0

# Zones and network buffers that cover a category on a day, for a territory.
_COVER_SQL = f"""
WITH cover AS (
    SELECT z.geom FROM geo_zone z JOIN geo_service s ON s.id = z.service_id AND s.is_active
    WHERE z.geom && (SELECT geom FROM geo_territory WHERE id = %(territory)s)
      AND (z.valid_from IS NULL OR z.valid_from <= %(day)s)
      AND (z.valid_until IS NULL OR z.valid_until >= %(day)s)
      AND (z.all_categories OR EXISTS (SELECT 1 FROM geo_zone_categories zc
                                      WHERE zc.zone_id = z.id AND zc.category_id = ANY(%(cats)s)))
    UNION ALL
    SELECT ST_Buffer({sql_geography("f.geom")}, COALESCE(f.tolerance_m, l.default_tolerance_m))::geometry
    FROM geo_networkfeature f JOIN geo_networklayer l ON l.id = f.layer_id
    JOIN geo_service s ON s.id = f.service_id AND s.is_active
    WHERE f.geom && (SELECT geom FROM geo_territory WHERE id = %(territory)s)
      AND EXISTS (SELECT 1 FROM geo_networklayer_categories lc
                  WHERE lc.networklayer_id = l.id AND lc.category_id = ANY(%(cats)s))
),
gap AS (
    SELECT CASE WHEN (SELECT count(*) FROM cover) = 0 THEN t.geom
                ELSE ST_Difference(t.geom, (SELECT ST_Union(geom) FROM cover)) END AS g
    FROM geo_territory t WHERE t.id = %(territory)s
),
parts AS (SELECT (ST_Dump(g)).geom AS g FROM gap)
SELECT {sql_area_m2("g")} AS area, ST_X(ST_PointOnSurface(g)), ST_Y(ST_PointOnSurface(g))
FROM parts ORDER BY area DESC
"""

_OVERLAP_SQL = f"""
WITH z AS (
    SELECT z.id, z.name, z.priority, z.geom, s.id AS sid, s.name AS sname
    FROM geo_zone z JOIN geo_service s ON s.id = z.service_id AND s.is_active
    WHERE (z.valid_from IS NULL OR z.valid_from <= %(day)s)
      AND (z.valid_until IS NULL OR z.valid_until >= %(day)s)
      AND (z.all_categories OR EXISTS (SELECT 1 FROM geo_zone_categories zc
                                      WHERE zc.zone_id = z.id AND zc.category_id = ANY(%(cats)s)))
),
pairs AS (
    SELECT a.id AS a_id, a.name AS a_name, a.sname AS a_service, b.id AS b_id, b.name AS b_name,
           b.sname AS b_service, a.priority, ST_Intersection(a.geom, b.geom) AS g
    FROM z a JOIN z b ON a.id < b.id AND a.priority = b.priority AND a.sid <> b.sid
                     AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
)
SELECT a_id, a_name, a_service, b_id, b_name, b_service, priority, {sql_area_m2("g")} AS area,
       ST_X(ST_PointOnSurface(g)), ST_Y(ST_PointOnSurface(g))
FROM pairs WHERE {sql_area_m2("g")} >= %(min_area)s ORDER BY area DESC
"""


@dataclass(frozen=True)
class GapPart:
    area_m2: float
    lon: float
    lat: float


@dataclass
class CategoryCoverage:
    territory: str
    category_code: str
    category_name: str
    territory_area_m2: float
    default_service: str | None = None
    gap_parts: list[GapPart] = field(default_factory=list)
    ignored_slivers: int = 0

    @property
    def gap_area_m2(self) -> float:
        return sum(p.area_m2 for p in self.gap_parts)

    @property
    def gap_share(self) -> float:
        return self.gap_area_m2 / self.territory_area_m2 if self.territory_area_m2 else 0.0


@dataclass(frozen=True)
class Overlap:
    category_code: str
    zone_a: tuple[int, str, str]
    zone_b: tuple[int, str, str]
    priority: int
    area_m2: float
    lon: float
    lat: float


def categories_to_check(code: str | None = None) -> list[Category]:
    """Reports are filed under leaves: check each leaf (and each parent without children)."""
    qs = (
        Category.objects.filter(is_active=True)
        .select_related("parent")
        .order_by("parent__position", "position", "name")
    )
    if code:
        return list(qs.filter(code=code))
    return [c for c in qs if c.parent_id or not c.children.filter(is_active=True).exists()]


def _default_for(territory: Territory, category: Category) -> DefaultService | None:
    defaults = {
        d.category_id: d
        for d in DefaultService.objects.filter(territory=territory, service__is_active=True).select_related(
            "service"
        )
    }
    for key in (category.pk, category.parent_id, None):
        if key in defaults:
            return defaults[key]
    return None


def coverage_gaps(
    *,
    category: Category,
    territory: Territory,
    on: date | None = None,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
) -> CategoryCoverage:
    """Parts of ``territory`` where ``category`` would find no service."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql_area_m2('geom')} FROM geo_territory WHERE id = %s", [territory.pk])
        (territory_area,) = cursor.fetchone()
    result = CategoryCoverage(territory.name, category.code, str(category), territory_area)
    default = _default_for(territory, category)
    if default is not None:
        result.default_service = default.service.name
        return result
    with connection.cursor() as cursor:
        cursor.execute(
            _COVER_SQL,
            {"territory": territory.pk, "cats": category.lineage_ids, "day": on or timezone.localdate()},
        )
        for area, lon, lat in cursor.fetchall():
            if area is None or area < min_area_m2:
                result.ignored_slivers += 1 if area else 0
                continue
            result.gap_parts.append(GapPart(area, lon, lat))
    return result


def coverage_overlaps(
    *, category: Category, on: date | None = None, min_area_m2: float = DEFAULT_MIN_AREA_M2
) -> list[Overlap]:
    """Pairs of zones of different services, equal priority, both competent for ``category``, that overlap."""
    with connection.cursor() as cursor:
        cursor.execute(
            _OVERLAP_SQL,
            {"cats": category.lineage_ids, "day": on or timezone.localdate(), "min_area": min_area_m2},
        )
        rows = cursor.fetchall()
    return [
        Overlap(category.code, (a_id, a_name, a_srv), (b_id, b_name, b_srv), prio, area, lon, lat)
        for a_id, a_name, a_srv, b_id, b_name, b_srv, prio, area, lon, lat in rows
    ]
