"""The concertation demo: Rennes as a second territory, three real ZAC perimeters, invented concertations.

The perimeters and their descriptions come from Rennes Métropole's open data (ODbL, see
``urbanisme/fixtures/demo/SOURCES.md``); the calendars, contributions and layers are invented and
labelled as such. Everything goes through the services a planner uses (so the demo exercises the
calendar, geometry and moderation rules) with dates relative to today, so that one concertation
is always open. Idempotent: a project that exists is left as it is.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction
from django.utils import timezone

from geo.models import Membership, Organisation, Territory
from geo.srid import STORAGE_SRID
from urbanisme import services
from urbanisme.models import ContributionChannel, PhaseKind, Project, ProjectStatus
from urbanisme.phases import opens_at, paris_day

DEMO_DIR = Path(__file__).resolve().parent / "fixtures" / "demo"
ZAC_FILE = DEMO_DIR / "rennes_zac_perimetres.geojson"
ORGANISATION = "Rennes Métropole"
TERRITORY_SLUG = "rennes"
SOURCE = "Périmètre : Rennes Métropole, « Zones d'aménagement concerté » (ODbL). Concertation fictive de démonstration."
PLANNER = "urbaniste-rennes"
MODERATOR = "moderation-rennes"


@dataclass(frozen=True)
class DemoContribution:
    kind: str
    theme: str
    title: str
    text: str
    at: tuple[float, float]  # fraction of the perimeter's bbox (west→east, south→north)
    pseudonym: str = ""
    channel: str = ContributionChannel.WEB
    channel_label: str = ""
    answer: str = ""
    supports: int = 0
    hide_reason: str = ""
    shape: str = "point"


EURORENNES: list[DemoContribution] = [
    DemoContribution(
        "idee",
        "Mobilités",
        "Un parking vélo sécurisé côté sud",
        "Les arceaux devant la gare sont saturés le matin ; un abri fermé côté Villeneuve serait utile.",
        (0.45, 0.35),
        "Maëlle",
        supports=14,
        answer="Un abri de 400 places est prévu dans la tranche 2 ; l'emplacement côté sud est à l'étude.",
    ),
    DemoContribution(
        "inquietude",
        "Mobilités",
        "Traversée dangereuse rue de l'Alma",
        "Les piétons traversent entre les bus ; il manque un passage protégé à la sortie de la gare.",
        (0.6, 0.55),
        "Yann",
        supports=9,
    ),
    DemoContribution(
        "question",
        "Logement",
        "Quelle part de logements sociaux ?",
        "Le dossier parle de mixité : combien de logements sociaux et en accession aidée sur l'îlot central ?",
        (0.5, 0.5),
        supports=6,
        answer="25 % de logements locatifs sociaux et 20 % d'accession aidée sur l'ensemble de la ZAC.",
    ),
    DemoContribution(
        "idee",
        "Espaces verts",
        "Des arbres sur le parvis",
        "Le parvis est très minéral : des arbres en pleine terre donneraient de l'ombre l'été.",
        (0.4, 0.6),
        "Léna",
        supports=21,
        shape="polygon",
    ),
    DemoContribution(
        "soutien",
        "Espaces verts",
        "Pour la coulée verte",
        "Je soutiens la liaison piétonne plantée vers le canal Saint-Martin.",
        (0.3, 0.45),
        "Pierre",
        supports=4,
        shape="line",
    ),
    DemoContribution(
        "idee",
        "Commerces",
        "Un marché le samedi",
        "Un petit marché de producteurs sur la place animerait le quartier le week-end.",
        (0.55, 0.4),
        channel=ContributionChannel.REUNION,
        channel_label="Réunion publique du Colombier",
        supports=3,
    ),
    DemoContribution(
        "inquietude",
        "Cadre de vie",
        "Bruit du chantier",
        "Les riverains de la rue Saint-Hélier s'inquiètent des horaires du chantier.",
        (0.7, 0.3),
        channel=ContributionChannel.REGISTRE,
        channel_label="Registre papier de la mairie de quartier Sud-Gare",
        answer="Les horaires sont fixés de 7 h 30 à 19 h en semaine ; une ligne d'information riverains est ouverte.",
    ),
    DemoContribution(
        "autre",
        "Cadre de vie",
        "Message hors sujet",
        "…",
        (0.5, 0.3),
        "Anonyme42",
        hide_reason="propos injurieux",
    ),
    DemoContribution(
        "question",
        "Mobilités",
        "Accès des personnes à mobilité réduite",
        "Les quais seront-ils accessibles depuis le nouveau parvis sans détour ?",
        (0.48, 0.52),
        "Sophie",
        supports=7,
    ),
]

VIASILVA: list[DemoContribution] = [
    DemoContribution(
        "idee",
        "Mobilités",
        "Prolonger la piste cyclable vers Cesson",
        "La piste s'arrête au rond-point ; la prolonger jusqu'à Cesson-Sévigné.",
        (0.4, 0.5),
        "Erwan",
        supports=11,
        answer="Retenu : la continuité cyclable figure au programme des espaces publics.",
    ),
    DemoContribution(
        "inquietude",
        "Espaces verts",
        "Préserver la haie bocagère",
        "La haie au nord du secteur est un refuge pour les oiseaux.",
        (0.5, 0.8),
        "Gaëlle",
        supports=8,
    ),
    DemoContribution(
        "idee",
        "Équipements",
        "Une école dès les premiers logements",
        "Ouvrir le groupe scolaire avant l'arrivée des familles.",
        (0.6, 0.4),
        channel=ContributionChannel.REUNION,
        channel_label="Atelier du 14 mai à Cesson",
        supports=2,
    ),
]


def _bbox_point(perimeter: MultiPolygon, fx: float, fy: float) -> GEOSGeometry:
    """A point at a fraction of the bbox, moved onto the surface if it fell outside (U-shaped ZACs)."""
    xmin, ymin, xmax, ymax = perimeter.extent
    point = GEOSGeometry(f"POINT({xmin + fx * (xmax - xmin)} {ymin + fy * (ymax - ymin)})", srid=STORAGE_SRID)
    if not perimeter.contains(point):
        point = perimeter.point_on_surface
        point.srid = STORAGE_SRID
    return point


def _shape(perimeter: MultiPolygon, item: DemoContribution) -> dict[str, Any]:
    centre = _bbox_point(perimeter, *item.at)
    d = 0.0006  # about 45 m east-west, 65 m north-south at Rennes: inside the 200 m margin anyway
    if item.shape == "polygon":
        ring = [
            [centre.x - d, centre.y - d],
            [centre.x + d, centre.y - d],
            [centre.x + d, centre.y + d],
            [centre.x - d, centre.y + d],
        ]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    if item.shape == "line":
        return {
            "type": "LineString",
            "coordinates": [[centre.x - 2 * d, centre.y], [centre.x + 2 * d, centre.y + d]],
        }
    return json.loads(centre.geojson)


def _users() -> tuple[Any, Any]:
    users = get_user_model().objects
    organisation = Organisation.objects.get(name=ORGANISATION)
    result = []
    for username, role in ((PLANNER, Membership.Role.PLANNER), (MODERATOR, Membership.Role.MODERATOR)):
        user, created = users.get_or_create(username=username)
        if created:
            if settings.DEBUG:
                user.set_password(settings.DEMO_PASSWORD)
            else:
                user.set_unusable_password()
            user.save()
        Membership.objects.get_or_create(user=user, organisation=organisation, service=None, role=role)
        result.append(user)
    return result[0], result[1]


def _features() -> dict[str, dict[str, Any]]:
    data = json.loads(ZAC_FILE.read_text(encoding="utf-8"))
    return {f["properties"]["nomzac"]: f for f in data["features"]}


def _territory(features: dict[str, dict[str, Any]]) -> Territory:
    organisation, _ = Organisation.objects.get_or_create(
        name=ORGANISATION, defaults={"kind": Organisation.Kind.METROPOLE}
    )
    union = None
    for feature in features.values():
        geom = GEOSGeometry(json.dumps(feature["geometry"]), srid=STORAGE_SRID)
        union = geom if union is None else union.union(geom)
    assert union is not None
    # 2 km around the perimeters' hull, in metres (Lambert-93 is right for Rennes), back to storage.
    outline = union.convex_hull.transform(2154, clone=True).buffer(2000).transform(STORAGE_SRID, clone=True)
    territory, _ = Territory.objects.get_or_create(
        slug=TERRITORY_SLUG,
        defaults={
            "name": "Rennes (démonstration)",
            "organisation": organisation,
            "geom": MultiPolygon(outline, srid=STORAGE_SRID),
        },
    )
    return territory


def _description(props: dict[str, Any]) -> str:
    decided = props.get("datedecis") or ""
    when = f"{decided[6:8]}/{decided[4:6]}/{decided[0:4]}" if len(decided) == 8 else "—"
    return (
        f"Zone d'aménagement concerté « {props['nomzac']} » — vocation : {props.get('vocation') or '—'} ; "
        f"étape : {props.get('etape') or '—'} ; maîtrise d'ouvrage : {props.get('maouvr') or '—'} ; "
        f"mode d'aménagement : {props.get('modame') or '—'}. Décision : {props.get('decis') or '—'} ({when}).\n\n"
        "Données de périmètre : Rennes Métropole (ODbL). La concertation présentée ici est fictive : "
        "elle sert à la démonstration de Concerto."
    )


def _create(
    *,
    feature: dict[str, Any],
    slug: str,
    title: str,
    summary: str,
    territory: Territory,
    planner: Any,
    phases: list[services.PhaseInput],
    moderation: str = "a_posteriori",
    status: str = ProjectStatus.PUBLISHED,
) -> Project:
    props = feature["properties"]
    project = services.project_create(
        actor=planner,
        territory=territory,
        organisation=territory.organisation,
        title=title,
        slug=slug,
        summary=summary,
        description=_description(props),
        perimeter=feature["geometry"],
        contact_name="Mission participation de Rennes Métropole",
        contact_email="participation@example.org",
        moderation=moderation,
        themes=["Mobilités", "Logement", "Espaces verts", "Commerces", "Équipements", "Cadre de vie"],
        source=SOURCE,
    )
    services.phases_replace(project=project, actor=planner, phases=phases)
    services.project_set_status(project=project, actor=planner, status=status)
    return project


def _contributions(
    project: Project, items: list[DemoContribution], *, planner: Any, moderator: Any, when: date
) -> int:
    themes = {t.name: t.pk for t in project.themes.all()}
    phase = next(p for p in project.phases.all() if p.allows_contributions)
    created = 0
    for index, item in enumerate(items):
        instant = opens_at(when) + timedelta(hours=9 + index * 7)
        on_behalf = item.channel != ContributionChannel.WEB
        contribution = services.contribution_create(
            project=project,
            actor=planner if on_behalf else None,
            kind=item.kind,
            title=item.title,
            text=item.text,
            geometry=_shape(project.perimeter, item),
            pseudonym=item.pseudonym,
            theme_id=themes.get(item.theme),
            channel=item.channel,
            channel_label=item.channel_label,
            phase_id=phase.pk if on_behalf else None,
            created_at=instant if on_behalf else None,
            now=instant,
        )
        if not on_behalf:
            type(contribution).objects.filter(pk=contribution.pk).update(created_at=instant)
        for n in range(item.supports):
            services.contribution_support(
                contribution=contribution, client=f"demo-{project.slug}-{index}-{n}", now=instant
            )
        if item.answer:
            services.official_answer(contribution=contribution, actor=planner, text=item.answer)
        if item.hide_reason:
            services.contribution_moderate(
                contribution=contribution, actor=moderator, action="hide", reason=item.hide_reason
            )
        created += 1
    return created


VOCATIONS = [
    ("logements", "#b45309", "Logements"),
    ("bureaux", "#1d4ed8", "Bureaux et activités"),
    ("espace-vert", "#15803d", "Espaces verts"),
    ("equipement", "#7e22ce", "Équipements publics"),
]


def _demo_layers(project: Project, planner: Any) -> None:
    """An invented « esquisse d'îlots » (vector, written in Lambert-93 to exercise reprojection) and a
    georeferenced « plan de principe » (GeoTIFF drawn here), both labelled as invented."""
    from urbanisme.layers import vector_layer_import
    from urbanisme.rasters import raster_to_cog, raster_upload

    perimeter = project.perimeter.transform(2154, clone=True)
    xmin, ymin, xmax, ymax = perimeter.extent
    features = []
    step, n = 150.0, 0
    y = ymin
    while y < ymax:
        x = xmin
        while x < xmax:
            cell = GEOSGeometry(
                f"POLYGON(({x} {y},{x + step} {y},{x + step} {y + step},{x} {y + step},{x} {y}))", srid=2154
            ).intersection(perimeter)
            if not cell.empty and cell.area > 2000:
                code, _colour, label = VOCATIONS[n % len(VOCATIONS)]
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"ilot": f"Îlot {n + 1}", "vocation": label, "code": code},
                        "geometry": json.loads(cell.geojson),
                    }
                )
                n += 1
            x += step
        y += step
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "esquisse_ilots.geojson"
        path.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
                    "features": features,
                }
            ),
            encoding="utf-8",
        )
        vector_layer_import(
            project=project,
            actor=planner,
            path_or_upload=path,
            name="Esquisse d'îlots (fictive)",
            description="Découpage fictif de démonstration : îlots de 150 m et vocations inventées.",
            style={
                "color": "#1e293b",
                "fill_color": "#f59e0b",
                "weight": 1,
                "opacity": 0.9,
                "fill_opacity": 0.35,
                "label_field": "ilot",
            },
            legend=[{"label": label, "color": colour} for _code, colour, label in VOCATIONS],
        )
        tif = Path(folder) / "plan_de_principe.tif"
        _write_plan(tif, (xmin, ymin, xmax, ymax))
        layer = raster_upload(
            project=project,
            actor=planner,
            upload=tif,
            name="Plan de principe (fictif)",
            description="Image georéférencée dessinée pour la démonstration.",
        )
        raster_to_cog(layer_id=layer.pk)


def _write_plan(path: Path, bounds: tuple[float, float, float, float]) -> None:
    """A 1024 px « plan » in Lambert-93: pale ground, a street grid and a green square, nodata around."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_bounds

    size = 1024
    ground = np.full((size, size), 235, dtype=np.uint8)
    ground[::128, :] = 120
    ground[:, ::128] = 120
    red, green, blue = ground.copy(), ground.copy(), ground.copy()
    red[384:640, 384:640], green[384:640, 384:640], blue[384:640, 384:640] = 120, 190, 120
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:2154",
        "transform": from_bounds(*bounds, size, size),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack([red, green, blue]))


@transaction.atomic
def concertation_demo_load(*, today: date | None = None) -> dict[str, int]:
    """Load the Rennes demo; returns what was created. A second run creates nothing."""
    today = today or paris_day(timezone.now())
    features = _features()
    territory = _territory(features)
    planner, moderator = _users()
    counts = {"projects": 0, "contributions": 0}

    if not Project.objects.filter(slug="eurorennes").exists():
        project = _create(
            feature=features["EuroRennes"],
            slug="eurorennes",
            title="EuroRennes : le quartier de la gare",
            summary="Concertation préalable sur les espaces publics du quartier de la gare : parvis, mobilités, îlot central.",
            territory=territory,
            planner=planner,
            phases=[
                services.PhaseInput(
                    kind=PhaseKind.INFORMATION,
                    start_date=today - timedelta(days=45),
                    end_date=today - timedelta(days=21),
                    description="Exposition et dossier en ligne.",
                ),
                services.PhaseInput(
                    kind=PhaseKind.CONCERTATION,
                    start_date=today - timedelta(days=20),
                    end_date=today + timedelta(days=25),
                    allows_contributions=True,
                    allows_supports=True,
                    description="Déposez vos idées, questions et inquiétudes sur la carte.",
                ),
                services.PhaseInput(
                    kind=PhaseKind.BILAN,
                    start_date=today + timedelta(days=26),
                    end_date=today + timedelta(days=60),
                ),
                services.PhaseInput(
                    kind=PhaseKind.DECISION,
                    start_date=today + timedelta(days=61),
                    end_date=today + timedelta(days=90),
                ),
            ],
        )
        counts["projects"] += 1
        _demo_layers(project, planner)
        counts["contributions"] += _contributions(
            project, EURORENNES, planner=planner, moderator=moderator, when=today - timedelta(days=18)
        )

    if not Project.objects.filter(slug="viasilva").exists():
        project = _create(
            feature=features["Atalante Viasilva"],
            slug="viasilva",
            title="ViaSilva : un quartier entre ville et bocage",
            summary="La concertation préalable est close ; l'enquête publique est en cours et le bilan est publié.",
            territory=territory,
            planner=planner,
            phases=[
                services.PhaseInput(
                    kind=PhaseKind.CONCERTATION,
                    start_date=today - timedelta(days=120),
                    end_date=today - timedelta(days=60),
                    allows_contributions=True,
                    allows_supports=True,
                ),
                services.PhaseInput(
                    kind=PhaseKind.BILAN,
                    start_date=today - timedelta(days=59),
                    end_date=today - timedelta(days=30),
                ),
                services.PhaseInput(
                    kind=PhaseKind.ENQUETE,
                    start_date=today - timedelta(days=10),
                    end_date=today + timedelta(days=20),
                    description="Enquête publique : le registre est tenu par le commissaire enquêteur.",
                ),
            ],
        )
        counts["projects"] += 1
        counts["contributions"] += _contributions(
            project, VIASILVA, planner=planner, moderator=moderator, when=today - timedelta(days=100)
        )
        services.bilan_publish(
            project=project,
            actor=planner,
            conclusion="La concertation a confirmé l'attente d'une continuité cyclable vers Cesson-Sévigné et la préservation des haies bocagères, reprises au dossier d'enquête publique.",
        )

    if not Project.objects.filter(slug="la-courrouze").exists():
        _create(
            feature=features["La Courrouze"],
            slug="la-courrouze",
            title="La Courrouze : les travaux des dernières tranches",
            summary="Information sur le calendrier des travaux (sans recueil de contributions).",
            territory=territory,
            planner=planner,
            phases=[
                services.PhaseInput(
                    kind=PhaseKind.TRAVAUX,
                    start_date=today - timedelta(days=200),
                    end_date=today + timedelta(days=400),
                    description="Travaux des îlots sud et des espaces publics.",
                ),
            ],
        )
        counts["projects"] += 1
    return counts
