"""Planning layer routes, relative to ``api/urbanisme/projets/<slug:slug>/`` (included by config)."""

from django.urls import path

from urbanisme import layer_api

urlpatterns = [
    path("couches/", layer_api.LayerListCreate.as_view(), name="layer-list"),
    path("couches/<slug:layer>/", layer_api.LayerDetail.as_view(), name="layer-detail"),
    path("couches/<slug:layer>/objets/", layer_api.AnnotationCreate.as_view(), name="layer-features"),
    path(
        "couches/<slug:layer>/objets/<int:feature>/",
        layer_api.AnnotationDelete.as_view(),
        name="layer-feature-detail",
    ),
]
