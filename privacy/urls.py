"""« Mes données »: under /mes-donnees/ (config/urls.py)."""

from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.request_link, name="request"),
    path("<str:token>/", views.subject_page, name="subject"),
    path("<str:token>/donnees.json", views.subject_download, name="export"),
    path("<str:token>/supprimer/", views.subject_erase_view, name="erase"),
]
