"""The Rennes concertation demo: real ZAC perimeters, one concertation open today, idempotent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from urbanisme.demo import concertation_demo_load
from urbanisme.models import Contribution, ContributionChannel, Project, Visibility
from urbanisme.selectors import project_calendar

pytestmark = pytest.mark.django_db


def test_the_demo_loads_three_projects_once_with_one_open_concertation(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    first = concertation_demo_load()
    again = concertation_demo_load()
    assert first == {"projects": 3, "contributions": 12}
    assert again == {"projects": 0, "contributions": 0}
    eurorennes = Project.objects.get(slug="eurorennes")
    calendar = project_calendar(eurorennes, timezone.now())
    assert calendar.contributions_open and calendar.current.kind == "concertation_prealable"
    # Perimeters are the real ones, credited; the concertation is labelled as invented.
    assert "Rennes Métropole" in eurorennes.source and "fictive" in eurorennes.source
    assert eurorennes.perimeter.num_geom >= 1 and eurorennes.territory.geom.contains(
        eurorennes.perimeter.centroid
    )
    contributions = Contribution.objects.filter(project=eurorennes)
    assert contributions.filter(visibility=Visibility.HIDDEN).count() == 1
    assert contributions.exclude(channel=ContributionChannel.WEB).count() == 2
    assert {c.geom.geom_type for c in contributions} == {"Point", "Polygon", "LineString"}
    # Its planning layers: an invented vector « esquisse » read from Lambert-93, a raster plan as a COG.
    layers = {layer.kind: layer for layer in eurorennes.layers.all()}
    assert layers["vector"].crs.endswith("2154") or "2154" in layers["vector"].crs
    assert layers["vector"].features.count() > 10
    assert layers["raster"].raster_status == "ready" and layers["raster"].footprint is not None
    # ViaSilva's concertation is over, frozen, and its bilan is published.
    viasilva = Project.objects.get(slug="viasilva")
    assert not project_calendar(viasilva, timezone.now()).contributions_open
    assert viasilva.bilan_published_at is not None
