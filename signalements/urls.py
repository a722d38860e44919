from django.urls import path, re_path

from signalements import api

app_name = "api"

urlpatterns = [
    path("signalements/", api.ReportListCreate.as_view(), name="report-list"),
    re_path(r"^signalements/nearby/?$", api.ReportNearby.as_view(), name="report-nearby"),
    path("signalements/<str:reference>/", api.ReportDetail.as_view(), name="report-detail"),
    path("signalements/<str:reference>/support/", api.ReportSupport.as_view(), name="report-support"),
    path("suivi/<str:token>/", api.Tracking.as_view(), name="tracking"),
    path("tickets/", api.TicketQueue.as_view(), name="ticket-list"),
    path("tickets/<str:reference>/", api.TicketDetail.as_view(), name="ticket-detail"),
    path("tickets/<str:reference>/transition/", api.TicketTransition.as_view(), name="ticket-transition"),
    path("tickets/<str:reference>/assign/", api.TicketAssign.as_view(), name="ticket-assign"),
    path("tickets/<str:reference>/priority/", api.TicketPriority.as_view(), name="ticket-priority"),
    path("tickets/<str:reference>/updates/", api.TicketPublicUpdate.as_view(), name="ticket-update"),
    path("tickets/<str:reference>/notes/", api.TicketNote.as_view(), name="ticket-note"),
    path("tickets/<str:reference>/reroute/", api.TicketReroute.as_view(), name="ticket-reroute"),
    path("tickets/<str:reference>/merge/", api.TicketMerge.as_view(), name="ticket-merge"),
    path("response-templates/", api.ResponseTemplates.as_view(), name="response-templates"),
]
