"""The planners' back office: projects, calendar, layers, moderation, on-behalf entry, bilan (namespace ``web``).

Mounted at ``urbanisme/``. Projects live under ``projets/<slug>/`` so that no slug can shadow
``nouveau-projet/``; each form posts to its own action URL, as the ticket page does.
"""

from django.urls import path

from web.views import planning

urlpatterns = [
    path("", planning.project_list, name="planning-projects"),
    path("nouveau-projet/", planning.project_new, name="planning-project-new"),
    path("projets/<slug:slug>/", planning.project_edit, name="planning-project"),
    path(
        "projets/<slug:slug>/modifier/<slug:action>/", planning.project_action, name="planning-project-action"
    ),
    path("projets/<slug:slug>/calendrier/", planning.calendar, name="planning-calendar"),
    path("projets/<slug:slug>/couches/", planning.layers, name="planning-layers"),
    path("projets/<slug:slug>/couches/etat/", planning.layers_status, name="planning-layers-status"),
    path(
        "projets/<slug:slug>/couches/annotations/<int:pk>/supprimer/",
        planning.annotation_delete,
        name="planning-annotation-delete",
    ),
    path(
        "projets/<slug:slug>/couches/<int:pk>/<slug:action>/",
        planning.layer_action,
        name="planning-layer-action",
    ),
    path("projets/<slug:slug>/couches/<slug:action>/", planning.layers_action, name="planning-layers-action"),
    path("projets/<slug:slug>/moderation/", planning.moderation, name="planning-moderation"),
    path(
        "projets/<slug:slug>/moderation/<int:pk>/reponses/<int:reply_pk>/<slug:action>/",
        planning.reply_action,
        name="planning-reply-action",
    ),
    path(
        "projets/<slug:slug>/moderation/<int:pk>/<slug:action>/",
        planning.moderation_action,
        name="planning-moderation-action",
    ),
    path("projets/<slug:slug>/saisie/", planning.entry, name="planning-entry"),
    path("projets/<slug:slug>/bilan/", planning.bilan, name="planning-bilan"),
    path("projets/<slug:slug>/bilan/publier/", planning.bilan_publish, name="planning-bilan-publish"),
]
