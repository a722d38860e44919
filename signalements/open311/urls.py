"""``/open311/v2/``: the format is the URL's suffix, as in the GeoReport v2 spec (``services.xml``)."""

from django.urls import re_path

from signalements.open311 import views

app_name = "open311"

FMT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    re_path(rf"^discovery{FMT}", views.Discovery.as_view(), name="discovery"),
    re_path(rf"^services{FMT}", views.ServiceList.as_view(), name="services"),
    re_path(rf"^services/(?P<code>[^/]+?){FMT}", views.ServiceDefinition.as_view(), name="service"),
    re_path(rf"^requests{FMT}", views.Requests.as_view(), name="requests"),
    re_path(rf"^requests/(?P<request_id>[^/]+?){FMT}", views.RequestDetail.as_view(), name="request"),
    re_path(rf"^tokens/(?P<token>[^/]+?){FMT}", views.Token.as_view(), name="token"),
    re_path(rf"^servicerequestupdates{FMT}", views.Updates.as_view(), name="updates"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
