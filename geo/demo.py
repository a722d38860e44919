"""The demo territory: Paris, its arrondissements, its road sectors, parks and default services.

Built through the same import functions a GIS administrator uses (``geo.services``), from the real
open-data outline of the arrondissements, so that the demo exercises the import and routing code
paths. Idempotent: imports upsert by stable ids, everything else is ``get_or_create``; a second
run changes nothing. Sources and licences: ``geo/fixtures/demo/SOURCES.md``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.gis.gdal import DataSource
from django.db import transaction

from geo.models import Category, DefaultService, Organisation, Service, Territory
from geo.services import territory_import, zones_import
from geo.srid import STORAGE_SRID

DEMO_DIR = Path(__file__).resolve().parent / "fixtures" / "demo"
ARRONDISSEMENTS = DEMO_DIR / "paris_arrondissements.geojson"
PARKS = DEMO_DIR / "parcs_demo.geojson"
ORGANISATION = "Ville de Paris"
TERRITORY_SLUG = "paris"

# Two levels, modelled on the types of Paris's « DansMaRue »: (code, name, icon, delay in days).
CATEGORIES: list[tuple[tuple[str, str, str, int], list[tuple[str, str, str, int]]]] = [
    (
        ("voirie", "Voirie et espace public", "road", 15),
        [
            ("voirie-trottoir", "Trottoirs : affaissement, trou, bosse, pavé arraché", "sidewalk", 15),
            ("voirie-chaussee", "Chaussée : nid de poule, affaissement", "pothole", 10),
            ("voirie-signalisation", "Signalisation et marquage au sol", "sign", 20),
            ("voirie-mobilier", "Mobilier urbain dégradé (potelet, barrière, banc)", "bench", 20),
        ],
    ),
    (
        ("eclairage", "Éclairage public", "lightbulb", 7),
        [
            ("eclairage-lampadaire", "Lampadaire éteint ou endommagé", "streetlight", 7),
            ("eclairage-feu", "Feu tricolore en panne", "traffic-light", 2),
        ],
    ),
    (
        ("proprete", "Propreté", "broom", 3),
        [
            ("proprete-depot", "Dépôt sauvage, objets abandonnés", "trash", 3),
            ("proprete-graffiti", "Graffitis, tags, affiches et autocollants", "spray", 10),
            ("proprete-dechets", "Déchets, déjections, corbeille pleine", "bin", 2),
        ],
    ),
    (
        ("espaces-verts", "Arbres, végétaux et espaces verts", "tree", 15),
        [
            ("espaces-verts-arbre", "Arbre malade, branche cassée", "tree", 10),
            ("espaces-verts-mobilier", "Jeux et mobilier de jardin dégradés", "playground", 15),
        ],
    ),
]

# Road sectors by groups of arrondissements (the « sections territoriales de voirie »).
ROAD_SECTORS: dict[str, list[int]] = {
    "Voirie – secteur Centre": [1, 2, 3, 4],
    "Voirie – secteur Sud": [5, 6, 13, 14],
    "Voirie – secteur Ouest": [7, 15, 16],
    "Voirie – secteur Nord-Ouest": [8, 9, 17],
    "Voirie – secteur Nord-Est": [10, 18, 19],
    "Voirie – secteur Est": [11, 12, 20],
}
LIGHTING = "Éclairage public"
CLEANLINESS = "Propreté de Paris"
PARKS_SERVICE = "Parcs et jardins (DEVE)"
SERVICE_EMAILS = {
    LIGHTING: ["eclairage.demo@example.org"],
    CLEANLINESS: ["proprete.demo@example.org"],
    PARKS_SERVICE: ["deve.demo@example.org"],
    **{name: [f"voirie-{name.split('secteur ')[1].lower()}.demo@example.org"] for name in ROAD_SECTORS},
}
DEFAULTS = {"eclairage": LIGHTING, "proprete": CLEANLINESS, "espaces-verts": PARKS_SERVICE}
SECTOR_PRIORITY = 10
PARK_PRIORITY = 50


@dataclass
class DemoCounts:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, created: bool) -> None:
        self.created[key] = self.created.get(key, 0) + int(created)


def arrondissement_name(number: int) -> str:
    return "1er arrondissement" if number == 1 else f"{number}e arrondissement"


def _sector_of(number: int) -> str:
    return next(name for name, numbers in ROAD_SECTORS.items() if number in numbers)


def _write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _sector_layer(folder: Path) -> Path:
    """The arrondissements with the name and road sector of each, as an administrator would prepare them."""
    source = json.loads(ARRONDISSEMENTS.read_text(encoding="utf-8"))
    features = [
        {
            "type": "Feature",
            "properties": {
                "nom": arrondissement_name(int(f["properties"]["c_ar"])),
                "service": _sector_of(int(f["properties"]["c_ar"])),
                "insee": str(f["properties"]["c_arinsee"]),
                "quartier": f["properties"]["l_aroff"],
            },
            "geometry": f["geometry"],
        }
        for f in source["features"]
    ]
    return _write_geojson(folder / "paris_secteurs_voirie.geojson", features)


def _park_layer(folder: Path, territory: Territory) -> Path:
    """The hand-drawn park outlines, clipped to the territory so that no zone leaks outside it."""
    layer = DataSource(str(PARKS))[0]
    features = []
    for feature in layer:
        geom = feature.geom.geos
        geom.srid = STORAGE_SRID
        clipped = geom.intersection(territory.geom)
        features.append(
            {
                "type": "Feature",
                "properties": {"nom": feature.get("nom"), "service": PARKS_SERVICE, "id": feature.get("id")},
                "geometry": json.loads(clipped.json),
            }
        )
    return _write_geojson(folder / "paris_parcs.geojson", features)


@transaction.atomic
def demo_load() -> dict[str, int]:
    """Load (or confirm) the Paris demo territory; returns how many rows of each kind were created."""
    counts = DemoCounts()
    org, created = Organisation.objects.get_or_create(
        name=ORGANISATION, defaults={"kind": Organisation.Kind.COMMUNE}
    )
    counts.add("organisations", created)
    for (code, name, icon, days), children in CATEGORIES:
        parent, created = Category.objects.get_or_create(
            code=code, defaults={"name": name, "icon": icon, "default_delay": timedelta(days=days)}
        )
        counts.add("categories", created)
        for position, (child_code, child_name, child_icon, child_days) in enumerate(children):
            _child, created = Category.objects.get_or_create(
                code=child_code,
                defaults={
                    "name": child_name,
                    "icon": child_icon,
                    "parent": parent,
                    "position": position,
                    "default_delay": timedelta(days=child_days),
                },
            )
            counts.add("categories", created)
    for name, emails in SERVICE_EMAILS.items():
        _service, created = Service.objects.get_or_create(
            organisation=org, name=name, defaults={"emails": emails}
        )
        counts.add("services", created)

    existed = Territory.objects.filter(slug=TERRITORY_SLUG).exists()
    if not existed:
        territory_import(path=ARRONDISSEMENTS, name="Paris", slug=TERRITORY_SLUG, organisation=ORGANISATION)
    counts.add("territories", not existed)
    territory = Territory.objects.get(slug=TERRITORY_SLUG)

    with tempfile.TemporaryDirectory() as folder:
        sectors = zones_import(
            path=_sector_layer(Path(folder)),
            name_field="nom",
            service_field="service",
            id_field="insee",
            categories=["voirie"],
            priority=SECTOR_PRIORITY,
            territory=TERRITORY_SLUG,
            organisation=ORGANISATION,
        )
        parks = zones_import(
            path=_park_layer(Path(folder), territory),
            name_field="nom",
            service_field="service",
            id_field="id",
            categories=["voirie", "espaces-verts"],
            priority=PARK_PRIORITY,
            territory=TERRITORY_SLUG,
            organisation=ORGANISATION,
        )
    counts.created["zones"] = sectors.created + parks.created

    for code, service_name in DEFAULTS.items():
        _default, created = DefaultService.objects.get_or_create(
            territory=territory,
            category=Category.objects.get(code=code),
            defaults={"service": Service.objects.get(organisation=org, name=service_name)},
        )
        counts.add("default services", created)
    return counts.created
