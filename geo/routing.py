"""The router: which service receives a report at a place, for a category, and why.

Routing is data plus one query. All candidates near the point — territories covering it, network
features and zones within reach, the territories' default services — come back from a single
indexed PostGIS statement; Python then only ranks that handful of rows by the one documented
precedence:

1. a network feature of a layer tied to the category, within its tolerance (nearest first);
2. the matching zone of highest priority, then the smallest such zone (then the oldest, so that
   equal rules still give a stable answer — ``coverage`` lists those ties);
3. the territory's default service for the category, else for its parent, else for all categories.

A point outside every territory raises :class:`~geo.errors.NotCovered`; a covered point with
no competent service raises :class:`~geo.errors.NoServiceForCategory`. Nothing is dropped.

A decision is *ambiguous* when moving the point by less than the ambiguity distance (15 m by
default) could hand it to another service: a zone or network feature of another service lies
that close, or the point lies that close to the edge of the rule that won. Pages then ask the
citizen to confirm and staff can re-route.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from geo.errors import NoServiceForCategory, NotCovered, UnknownCategory
from geo.models import MAX_TOLERANCE_M, Category
from geo.srid import (
    STORAGE_SRID,
    degrees_margin,
    point_from_lonlat,
    sql_area_m2,
    sql_distance_m,
    sql_dwithin_m,
    to_storage,
)


class Rule(enum.StrEnum):
    NETWORK = "reseau"
    ZONE = "zone"
    DEFAULT = "defaut"

    @property
    def label(self) -> str:
        return {
            Rule.NETWORK: _("tronçon de réseau"),
            Rule.ZONE: _("zone"),
            Rule.DEFAULT: _("service par défaut du territoire"),
        }[self]


@dataclass(frozen=True)
class Candidate:
    """One row of the routing query: a rule that could apply at (or near) the point."""

    rule: Rule
    object_id: int
    name: str
    service_id: int
    service_name: str
    distance_m: float
    # zone: priority, area and distance to its own edge; network: tolerance and layer;
    # default: specificity (2 the category, 1 its parent, 0 every category) and territory.
    priority: int | None = None
    area_m2: float | None = None
    edge_distance_m: float | None = None
    tolerance_m: float | None = None
    layer_name: str | None = None
    competence: str | None = None
    specificity: int | None = None
    territory_name: str | None = None

    @property
    def matches(self) -> bool:
        if self.rule is Rule.NETWORK:
            return self.distance_m <= (self.tolerance_m or 0.0)
        if self.rule is Rule.ZONE:
            return self.distance_m == 0.0
        return True


@dataclass(frozen=True)
class Alternative:
    """Another service the point could belong to; ``reason`` says why, in French."""

    service_id: int
    service_name: str
    rule: Rule
    object_id: int
    name: str
    distance_m: float
    reason: str


@dataclass(frozen=True)
class Decision:
    service_id: int
    service_name: str
    rule: Rule
    matched: Candidate
    explanation: str
    ambiguous: bool
    alternatives: list[Alternative] = field(default_factory=list)
    losers: list[Alternative] = field(default_factory=list)
    category_code: str = ""
    territories: list[str] = field(default_factory=list)
    lon: float = 0.0
    lat: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored with each report and printed by ``manage.py route --json``."""
        data = asdict(self)
        data["rule"] = str(self.rule)
        data["matched"] = {k: v for k, v in data["matched"].items() if v is not None}
        data["matched"]["rule"] = str(self.rule)
        for key in ("alternatives", "losers"):
            for item in data[key]:
                item["rule"] = str(item["rule"])
        return data


# One statement, four kinds of candidate. Every spatial predicate compares the untouched column
# with the (widened) query point, so the GiST indexes on geom do the pre-filtering.
_ROUTING_SQL = f"""
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {STORAGE_SRID}) AS g),
cats AS (SELECT unnest(%(cats)s::bigint[]) AS id),
terr AS (
    SELECT t.id, t.name, {sql_area_m2("t.geom")} AS area
    FROM geo_territory t, pt WHERE ST_Intersects(t.geom, pt.g)
)
SELECT 'territory' AS kind, terr.id, terr.name, NULL::bigint, NULL, 0.0::float8,
       NULL::int, terr.area, NULL::float8, NULL::float8, NULL, NULL, NULL::int, NULL
FROM terr
UNION ALL
SELECT 'network', f.id, COALESCE(NULLIF(f.name, ''), l.name), s.id, s.name,
       {sql_distance_m("f.geom", "pt.g")},
       NULL, NULL, NULL, COALESCE(f.tolerance_m, l.default_tolerance_m), l.name, NULL, NULL, NULL
FROM geo_networkfeature f
JOIN geo_networklayer l ON l.id = f.layer_id
JOIN geo_service s ON s.id = f.service_id AND s.is_active
CROSS JOIN pt
WHERE EXISTS (SELECT 1 FROM geo_networklayer_categories lc
              WHERE lc.networklayer_id = l.id AND lc.category_id IN (SELECT id FROM cats))
  AND {sql_dwithin_m("f.geom", "pt.g", "COALESCE(f.tolerance_m, l.default_tolerance_m) + %(near)s", "%(net_margin)s")}
UNION ALL
SELECT 'zone', z.id, z.name, s.id, s.name,
       CASE WHEN ST_Intersects(z.geom, pt.g) THEN 0.0 ELSE {sql_distance_m("z.geom", "pt.g")} END,
       z.priority, {sql_area_m2("z.geom")}, {sql_distance_m("ST_Boundary(z.geom)", "pt.g")},
       NULL, NULL,
       CASE WHEN z.all_categories THEN '*'
            ELSE (SELECT c.name FROM geo_zone_categories zc JOIN geo_category c ON c.id = zc.category_id
                  WHERE zc.zone_id = z.id AND zc.category_id IN (SELECT id FROM cats)
                  ORDER BY c.parent_id NULLS LAST LIMIT 1) END,
       NULL, NULL
FROM geo_zone z
JOIN geo_service s ON s.id = z.service_id AND s.is_active
CROSS JOIN pt
WHERE (z.valid_from IS NULL OR z.valid_from <= %(day)s)
  AND (z.valid_until IS NULL OR z.valid_until >= %(day)s)
  AND (z.all_categories OR EXISTS (SELECT 1 FROM geo_zone_categories zc
                                  WHERE zc.zone_id = z.id AND zc.category_id IN (SELECT id FROM cats)))
  AND {sql_dwithin_m("z.geom", "pt.g", "%(near)s", "%(near_margin)s")}
UNION ALL
SELECT 'default', d.id, terr.name, s.id, s.name, 0.0,
       NULL, terr.area, NULL, NULL, NULL, c.name,
       CASE WHEN d.category_id = %(cat)s THEN 2 WHEN d.category_id IS NULL THEN 0 ELSE 1 END,
       terr.name
FROM geo_defaultservice d
JOIN terr ON terr.id = d.territory_id
JOIN geo_service s ON s.id = d.service_id AND s.is_active
LEFT JOIN geo_category c ON c.id = d.category_id
WHERE d.category_id IS NULL OR d.category_id IN (SELECT id FROM cats)
"""


def _resolve_category(category: Category | str) -> Category:
    if isinstance(category, Category):
        if not category.is_active:
            raise UnknownCategory(category.code)
        return category
    found = Category.objects.select_related("parent").filter(code=category, is_active=True).first()
    if found is None:
        raise UnknownCategory(str(category))
    return found


def _point(point: Point | tuple[float, float]) -> Point:
    if isinstance(point, Point):
        stored = to_storage(point)
        assert isinstance(stored, Point)  # transforming a point gives a point
        return stored
    return point_from_lonlat(*point)


class _PreparingCursor(psycopg.Cursor):
    """A server-side-binding cursor whose statements PostgreSQL plans once per connection.

    Planning the routing statement costs about 1.6 ms and running it about 0.4 ms (measured
    with EXPLAIN ANALYZE on 5,000 zones); Django's default client-side binding re-plans it for
    every report. Protocol-level preparation also works through PgBouncer >= 1.21 with
    ``max_prepared_statements``. Behind an older transaction-mode pooler
    (``DATABASE_POOLER=transaction``) a named statement would be prepared on one server session
    and executed on another (« prepared statement "_pg3_0" does not exist / already exists »), so
    the statement is then sent unnamed: still server-side bound, planned at every execution.
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("prepare", not getattr(settings, "DATABASE_POOLER", ""))
        return super().execute(query, params, **kwargs)


def _prepared_cursor() -> Any:
    connection.ensure_connection()
    # Django's own wrapper keeps query logging, execute wrappers and error translation.
    return connection._prepare_cursor(_PreparingCursor(connection.connection))  # type: ignore[attr-defined]


def _fetch_candidates(
    pt: Point, category: Category, day: date, near_m: float
) -> tuple[list[tuple[str, float]], list[Candidate]]:
    params = {
        "lon": pt.x,
        "lat": pt.y,
        "cats": category.lineage_ids,
        "cat": category.pk,
        "day": day,
        "near": near_m,
        "near_margin": degrees_margin(pt.y, near_m),
        "net_margin": degrees_margin(pt.y, MAX_TOLERANCE_M + near_m),
    }
    with _prepared_cursor() as cursor:
        cursor.execute(_ROUTING_SQL, params)
        rows = cursor.fetchall()
    territories: list[tuple[str, float]] = []
    candidates: list[Candidate] = []
    for kind, oid, name, sid, sname, dist, prio, area, edge, tol, layer, comp, spec, tname in rows:
        if kind == "territory":
            territories.append((name, area))
            continue
        candidates.append(
            Candidate(
                rule={"network": Rule.NETWORK, "zone": Rule.ZONE, "default": Rule.DEFAULT}[kind],
                object_id=oid,
                name=name,
                service_id=sid,
                service_name=sname,
                distance_m=float(dist),
                priority=prio,
                area_m2=area,
                edge_distance_m=edge,
                tolerance_m=tol,
                layer_name=layer,
                competence=comp,
                specificity=spec,
                territory_name=tname,
            )
        )
    return territories, candidates


def _rank_key(c: Candidate) -> tuple:
    """Smaller is better: the precedence of the module docstring, as one sort key."""
    if c.rule is Rule.NETWORK:
        return (0, c.distance_m, 0.0, c.object_id)
    if c.rule is Rule.ZONE:
        return (1, -(c.priority or 0), c.area_m2 or 0.0, c.object_id)
    return (2, -(c.specificity or 0), c.area_m2 or 0.0, c.object_id)


def _num(value: float | None, decimals: int = 0) -> str:
    """A number as the reader's language writes it (« 12,5 » in French)."""
    return number_format(value or 0.0, decimal_pos=decimals, use_l10n=True)


def _ha(area_m2: float | None) -> str:
    return f"{_num((area_m2 or 0.0) / 10_000, 1)} ha"


def _competence_label(c: Candidate, category: Category) -> str:
    if c.competence in (None, "*"):
        return _("toutes les catégories")
    if c.competence == category.name:
        return _("« %(category)s »") % {"category": category.name}
    return _("« %(parent)s » (dont « %(category)s »)") % {"parent": c.competence, "category": category.name}


def _why_lost(loser: Candidate, winner: Candidate) -> str:
    if winner.rule is Rule.NETWORK and loser.rule is Rule.NETWORK:
        return _("tronçon plus éloigné (%(d)s m contre %(w)s m)") % {
            "d": _num(loser.distance_m),
            "w": _num(winner.distance_m),
        }
    if winner.rule is Rule.NETWORK:
        return _(
            "un tronçon du réseau « %(layer)s » à %(d)s m prime sur les zones et services par défaut"
        ) % {
            "layer": winner.layer_name,
            "d": _num(winner.distance_m),
        }
    if loser.rule is Rule.ZONE:
        if (loser.priority or 0) < (winner.priority or 0):
            return _("priorité %(p)d inférieure à %(w)d") % {"p": loser.priority, "w": winner.priority}
        if (loser.area_m2 or 0.0) > (winner.area_m2 or 0.0):
            return _("même priorité, zone plus grande (%(a)s contre %(w)s)") % {
                "a": _ha(loser.area_m2),
                "w": _ha(winner.area_m2),
            }
        return _("même priorité et même surface : départagée par l'ancienneté de la zone")
    if winner.rule is Rule.ZONE:
        return _("le service par défaut ne s'applique qu'en l'absence de zone compétente")
    return _("service par défaut moins spécifique")


def _explain(winner: Candidate, category: Category) -> str:
    if winner.rule is Rule.NETWORK:
        return _(
            "Transmis à %(service)s : le point est à %(d)s m du tronçon « %(name)s » (réseau « %(layer)s », "
            "tolérance %(tol)s m), géré par ce service pour « %(category)s »."
        ) % {
            "service": winner.service_name,
            "d": _num(winner.distance_m),
            "name": winner.name,
            "layer": winner.layer_name,
            "tol": _num(winner.tolerance_m),
            "category": category.name,
        }
    if winner.rule is Rule.ZONE:
        return _(
            "Transmis à %(service)s : le point est dans la zone « %(zone)s », compétente pour %(competence)s "
            "(priorité %(priority)d)."
        ) % {
            "service": winner.service_name,
            "zone": winner.name,
            "competence": _competence_label(winner, category),
            "priority": winner.priority or 0,
        }
    return _(
        "Transmis à %(service)s : aucune zone particulière ne couvre ce point ; c'est le service par défaut "
        "du territoire « %(territory)s » pour %(scope)s."
    ) % {
        "service": winner.service_name,
        "territory": winner.territory_name,
        "scope": _competence_label(winner, category),
    }


def _alternatives(winner: Candidate, ranked: list[Candidate], near_m: float) -> list[Alternative]:
    """Services the point could go to if it moved by less than ``near_m``; one entry per service."""
    found: dict[int, Alternative] = {}

    def add(c: Candidate, reason: str) -> None:
        if c.service_id != winner.service_id and c.service_id not in found:
            found[c.service_id] = Alternative(
                c.service_id, c.service_name, c.rule, c.object_id, c.name, round(c.distance_m, 1), reason
            )

    # Rules of another service that do not apply here but lie within reach.
    for c in ranked:
        if c.matches:
            continue
        if c.rule is Rule.ZONE and winner.rule is not Rule.NETWORK:
            # Across that edge the zone applies; a network feature, though, would still win.
            add(c, _("la zone « %(name)s » est à %(d)s m") % {"name": c.name, "d": _num(c.distance_m, 1)})
        elif c.rule is Rule.NETWORK:
            add(
                c,
                _("le tronçon « %(name)s » est à %(d)s m (tolérance %(tol)s m)")
                % {"name": c.name, "d": _num(c.distance_m, 1), "tol": _num(c.tolerance_m)},
            )
    # The point is close to the edge of the rule that won: the next rule in line takes over there.
    at_edge = (winner.rule is Rule.ZONE and (winner.edge_distance_m or 0.0) <= near_m) or (
        winner.rule is Rule.NETWORK and winner.distance_m >= (winner.tolerance_m or 0.0) - near_m
    )
    if at_edge:
        for c in ranked:
            if c.matches and c is not winner and c.service_id != winner.service_id:
                if winner.rule is Rule.ZONE:
                    reason = _("le point est à %(d)s m du bord de la zone « %(zone)s »") % {
                        "d": _num(winner.edge_distance_m, 1),
                        "zone": winner.name,
                    }
                else:
                    reason = _("le point est à la limite de tolérance du tronçon « %(name)s »") % {
                        "name": winner.name
                    }
                add(c, reason)
                break
    return list(found.values())


def route(
    point: Point | tuple[float, float],
    category: Category | str,
    *,
    on: date | None = None,
    ambiguity_m: float | None = None,
) -> Decision:
    """Decide which service receives a report at ``point`` (lon/lat or a Point with an SRID).

    ``on`` is the day whose zone validity applies (today, Europe/Paris, by default).
    """
    pt = _point(point)
    cat = _resolve_category(category)
    near_m = settings.ROUTING_AMBIGUITY_DISTANCE_M if ambiguity_m is None else ambiguity_m
    day = on or timezone.localdate()
    territories, candidates = _fetch_candidates(pt, cat, day, near_m)
    if not territories:
        raise NotCovered(pt.x, pt.y)
    ranked = sorted(candidates, key=_rank_key)
    matching = [c for c in ranked if c.matches]
    if not matching:
        raise NoServiceForCategory(cat.name, [name for name, _area in territories])
    winner = matching[0]
    alternatives = _alternatives(winner, ranked, near_m)
    losers = [
        Alternative(
            c.service_id,
            c.service_name,
            c.rule,
            c.object_id,
            c.name,
            round(c.distance_m, 1),
            _why_lost(c, winner),
        )
        for c in matching[1:]
    ]
    explanation = _explain(winner, cat)
    if alternatives:
        explanation += " " + _(
            "Attention : ce point est à moins de %(d)s m du secteur de %(others)s ; merci de confirmer l'emplacement."
        ) % {"d": _num(near_m), "others": ", ".join(a.service_name for a in alternatives)}
    return Decision(
        service_id=winner.service_id,
        service_name=winner.service_name,
        rule=winner.rule,
        matched=winner,
        explanation=explanation,
        ambiguous=bool(alternatives),
        alternatives=alternatives,
        losers=losers,
        category_code=cat.code,
        territories=[name for name, _area in sorted(territories, key=lambda t: t[1])],
        lon=pt.x,
        lat=pt.y,
    )
