from django.urls import include, path

from urbanisme import api, layer_urls

app_name = "urbanisme-api"

project_patterns = [
    path("", api.ProjectDetail.as_view(), name="project-detail"),
    path("phases/", api.ProjectPhases.as_view(), name="project-phases"),
    path("documents/", api.ProjectDocuments.as_view(), name="project-documents"),
    path("suivre/", api.ProjectFollow.as_view(), name="project-follow"),
    path("contributions/", api.ContributionListCreate.as_view(), name="contribution-list"),
    path("contributions/<int:pk>/", api.ContributionDetail.as_view(), name="contribution-detail"),
    path("contributions/<int:pk>/reponses/", api.ContributionReplies.as_view(), name="contribution-replies"),
    path("contributions/<int:pk>/soutien/", api.ContributionSupport.as_view(), name="contribution-support"),
    path(
        "contributions/<int:pk>/moderation/", api.ContributionModerate.as_view(), name="contribution-moderate"
    ),
    path(
        "contributions/<int:pk>/reponses/<int:reply_pk>/moderation/",
        api.ReplyModerate.as_view(),
        name="reply-moderate",
    ),
    path("moderation/", api.ModerationQueue.as_view(), name="moderation-queue"),
    path("bilan/publier/", api.BilanPublish.as_view(), name="bilan-publish"),
    *layer_urls.urlpatterns,
]

urlpatterns = [
    path("projets/", api.ProjectListCreate.as_view(), name="project-list"),
    path("projets/<slug:slug>/", include(project_patterns)),
    path("abonnement/<str:token>/confirmer/", api.FollowConfirm.as_view(), name="follow-confirm"),
    path("desabonnement/<str:token>/", api.Unfollow.as_view(), name="unfollow"),
]
