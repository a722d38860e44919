"""The pages, in French slugs. Citizens: the map, filing, a report's page, the tracking link.
Field services: sign-in, the queue, the ticket page and its actions. Projects come next (urbanisme)."""

from django.urls import include, path

from web.views import accounts, dashboard, filing, public, staff

app_name = "web"

urlpatterns = [
    path("", public.home, name="home"),
    path("signaler/", filing.report_new, name="report-new"),
    path("signaler/verifier/", filing.report_check, name="report-check"),
    path("signaler/adresse/", filing.address_search, name="address-search"),
    path("signaler/envoye/<str:reference>/", filing.report_filed, name="report-filed"),
    path("signalements/<str:reference>/", public.report_detail, name="report-detail"),
    path("signalements/<str:reference>/soutenir/", public.report_support, name="report-support"),
    path("suivi/<str:token>/", public.tracking, name="tracking"),
    path("connexion/", accounts.LoginView.as_view(), name="login"),
    path("deconnexion/", accounts.LogoutView.as_view(), name="logout"),
    # Projects (citizens) and the planners' back office: each its own module and URL list.
    path("projets/", include("web.project_urls")),
    path("urbanisme/", include("web.planning_urls")),
    path("agents/", staff.queue, name="queue"),
    path("agents/tableau-de-bord/", dashboard.dashboard, name="dashboard"),
    path("agents/tickets/<str:reference>/", staff.ticket_detail, name="ticket"),
    path("agents/tickets/<str:reference>/<slug:action>/", staff.ticket_action, name="ticket-action"),
]
