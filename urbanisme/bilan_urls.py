"""Routes of the bilan, in two lists that ``config.urls`` mounts under a project's prefixes:

* ``api_urlpatterns`` under ``api/urbanisme/projets/<slug:slug>/``: ``bilan/`` (JSON),
  ``bilan.csv``, ``bilan.geojson``;
* ``page_urlpatterns`` under ``projets/<slug:slug>/``: ``bilan/`` (the HTML page).

Mount them without a namespace so that the names below reverse (the views fall back to those
prefixes otherwise).
"""

from django.urls import path

from urbanisme import bilan_views

api_urlpatterns = [
    path("bilan/", bilan_views.bilan_json, name="urbanisme-bilan-json"),
    path("bilan.csv", bilan_views.bilan_csv, name="urbanisme-bilan-csv"),
    path("bilan.geojson", bilan_views.bilan_geojson, name="urbanisme-bilan-geojson"),
]

page_urlpatterns = [
    path("bilan/", bilan_views.bilan_page, name="urbanisme-bilan"),
]
