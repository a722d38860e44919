from django.urls import path, re_path

from tiles import views

app_name = "tiles"

urlpatterns = [
    path("", views.index, name="index"),
    re_path(
        r"^raster/(?P<layer>[a-z][a-z0-9_-]*)/(?P<z>\d{1,3})/(?P<x>\d{1,8})/(?P<y>\d{1,8})(?P<scale>@2x)?\.(?P<fmt>png|webp)$",
        views.raster_tile,
        name="raster-tile",
    ),
    path("raster/<str:layer>.json", views.raster_tilejson, name="raster-tilejson"),
    path("<str:layer>/<int:z>/<int:x>/<int:y>.mvt", views.vector_tile, name="vector-tile"),
    path("<str:layer>.json", views.vector_tilejson, name="vector-tilejson"),
    re_path(r"^(?P<path>.*)$", views.unknown, name="unknown"),
]
