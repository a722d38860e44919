"""A minimal OpenAPI 3.0 document of the OGC API endpoints, written by hand (conformance class oas30)."""

from __future__ import annotations

from typing import Any

from opendata.collections import REGISTRY


def _param(name: str, description: str, schema: dict[str, Any], location: str = "query") -> dict[str, Any]:
    return {
        "name": name,
        "in": location,
        "required": location == "path",
        "description": description,
        "schema": schema,
        "style": "form",
        "explode": False,
    }


def _ok(description: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {media: {"schema": {"type": "object"}}}},
        "400": {"description": "Invalid parameter"},
        "404": {"description": "Not found"},
    }


def document(server_url: str) -> dict[str, Any]:
    collection_id = {
        **_param("collectionId", "Collection", {"type": "string", "enum": sorted(REGISTRY)}, "path"),
        "style": "simple",
    }
    feature_id = {**_param("featureId", "Feature id", {"type": "string"}, "path"), "style": "simple"}
    query = [
        _param(
            "bbox",
            "west,south,east,north (CRS84)",
            {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        ),
        _param("datetime", "RFC 3339 instant or interval (a/b, ../b, a/..)", {"type": "string"}),
        _param(
            "limit",
            "Page size (1-1000, default 100)",
            {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        ),
        _param("offset", "Index of the first feature", {"type": "integer", "minimum": 0, "default": 0}),
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Concerto OGC API – Features",
            "version": "1.0.0",
            "license": {
                "name": "Licence Ouverte 2.0",
                "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
            },
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "paths": {
            "/": {"get": {"operationId": "getLandingPage", "responses": _ok("Landing page")}},
            "/conformance": {"get": {"operationId": "getConformance", "responses": _ok("Conformance")}},
            "/collections": {"get": {"operationId": "getCollections", "responses": _ok("Collections")}},
            "/collections/{collectionId}": {
                "get": {
                    "operationId": "describeCollection",
                    "parameters": [collection_id],
                    "responses": _ok("Collection"),
                }
            },
            "/collections/{collectionId}/items": {
                "get": {
                    "operationId": "getFeatures",
                    "parameters": [collection_id, *query],
                    "responses": _ok("Features", "application/geo+json"),
                }
            },
            "/collections/{collectionId}/items/{featureId}": {
                "get": {
                    "operationId": "getFeature",
                    "parameters": [collection_id, feature_id],
                    "responses": _ok("Feature", "application/geo+json"),
                }
            },
        },
    }
