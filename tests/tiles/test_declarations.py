"""Declaration rules of vector layers and the filters the concertation layers added."""

from __future__ import annotations

import pytest

from tiles import filters, layers
from tiles.errors import TileError


def test_a_filter_may_not_take_a_parameter_of_the_statement():
    # ``?layer=12`` once overwrote the MVT layer's own name in the bound parameters
    with pytest.raises(ValueError, match="statement's parameters"):
        layers.VectorLayer(
            name="essai",
            title="Essai",
            source="geo_territory t",
            geom="t.geom",
            fields=(),
            sources=("geo_territory",),
            filters=(layers.Filter("mvt_layer", "TRUE", str),),
        )


def test_slug_integer_and_choice_filters_are_canonical_and_checked():
    assert filters.slugs("project")("gare, place-du-marche,gare") == ["gare", "place-du-marche"]
    assert filters.integers("layer")("12,3, 12") == [3, 12]
    assert filters.choices("kind", {"idee", "question"})("question,idee") == ["idee", "question"]
    for parse, raw in (
        (filters.slugs("project"), "gare;drop table"),
        (filters.integers("layer"), "douze"),
        (filters.integers("layer"), "0"),
        (filters.choices("kind", {"idee"}), "colere"),
        (filters.integers("layer"), " , "),
    ):
        with pytest.raises(TileError) as refused:
            parse(raw)
        assert refused.value.code == "filtre_invalide" and refused.value.status == 400


def test_concertation_layers_are_declared_with_public_fields_only():
    names = {layer.name for layer in layers.all_layers()}
    assert {"projects", "contributions", "planning"} <= names
    assert {f.name for f in layers.CONTRIBUTIONS.fields} == {
        "id",
        "project",
        "kind",
        "theme",
        "supports_count",
        "created_at",
        "is_answered",
    }
    for layer in (layers.PROJECTS, layers.CONTRIBUTIONS, layers.PLANNING):
        sql = " ".join([layer.source, layer.where, *(f.sql for f in layer.fields), layer.attributes_sql])
        assert "pseudonym" not in sql and "contributionauthor" not in sql and "author" not in sql
