"""Projects for citizens: list and map, a project's page, contributions (namespace ``web``).

Mounted at ``projets/`` by ``web.urls``. The e-mail links (``abonnement/…``, ``desabonnement/…``,
built in ``urbanisme.notifications``) come before ``<slug:slug>/`` so that they are never read as
a project. The bilan page (``<slug>/bilan/``) is mounted by ``config.urls``. Rate limits of the
POST routes: ``config.ratelimit.VIEW_SCOPES``.
"""

from django.urls import path

from web.views import projects

urlpatterns = [
    path("", projects.project_list, name="projects"),
    path("abonnement/<str:token>/confirmer/", projects.follow_confirm, name="project-follow-confirm"),
    path("desabonnement/<str:token>/", projects.unfollow, name="project-unfollow"),
    path("<slug:slug>/", projects.project_detail, name="project"),
    path("<slug:slug>/suivre/", projects.project_follow, name="project-follow"),
    path("<slug:slug>/contribuer/", projects.contribution_new, name="project-contribute"),
    path("<slug:slug>/contributions/<int:pk>/", projects.contribution_detail, name="contribution"),
    path(
        "<slug:slug>/contributions/<int:pk>/repondre/",
        projects.contribution_reply,
        name="contribution-reply",
    ),
    path(
        "<slug:slug>/contributions/<int:pk>/soutenir/",
        projects.contribution_support,
        name="contribution-support",
    ),
]
