"""The project's URLs plus what config/urls.py will get (``/metrics``) and a view that logs."""

import logging

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.metrics import metrics
from config.observability import current_request_id
from config.urls import urlpatterns as project_urlpatterns

logger = logging.getLogger("concerto.test.observability")


def echo(request: HttpRequest, n: int) -> JsonResponse:
    logger.info("echo view")
    return JsonResponse({"request_id": request.request_id, "context": current_request_id()})


def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("boom")


urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path("_echo/<int:n>/", echo, name="echo"),
    path("_boom/", boom, name="boom"),
    *project_urlpatterns,
]
