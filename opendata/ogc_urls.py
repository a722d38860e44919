from django.urls import path

from opendata import ogc_views

app_name = "ogc"

urlpatterns = [
    path("", ogc_views.landing, name="landing"),
    path("conformance", ogc_views.conformance, name="conformance"),
    path("api", ogc_views.openapi_document, name="openapi"),
    path("collections", ogc_views.collections, name="collections"),
    path("collections/<str:collection_id>", ogc_views.collection, name="collection"),
    path("collections/<str:collection_id>/items", ogc_views.items, name="items"),
    path("collections/<str:collection_id>/items/<str:feature_id>", ogc_views.item, name="item"),
]
