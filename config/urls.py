from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz
from config.metrics import metrics
from urbanisme import bilan_urls

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from static/vendor (npm), never from a CDN: see SPECTACULAR_SETTINGS.
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/urbanisme/", include("urbanisme.urls")),
    path("api/urbanisme/projets/<slug:slug>/", include(bilan_urls.api_urlpatterns)),
    path("api/", include("signalements.urls")),
    path("tiles/", include("tiles.urls")),
    path("open311/v2/", include("signalements.open311.urls")),
    path("ogc/", include("opendata.ogc_urls")),
    path("opendata/", include("opendata.urls")),
    path("mes-donnees/", include("privacy.urls")),
    # Server-rendered pages (citizens, field services, planners): last, they own the root.
    path("projets/<slug:slug>/", include(bilan_urls.page_urlpatterns)),
    path("", include("web.urls")),
]
