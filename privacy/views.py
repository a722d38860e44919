"""« Mes données » (/mes-donnees/): a citizen sees, downloads and erases the data tied to an address.

1. ``POST /mes-donnees/`` with an address: the same answer whether or not anything is known about
   it (nothing leaks to whoever types an address); a link is e-mailed through the outbox.
2. ``GET /mes-donnees/<token>/``: what is held, with a download of everything as JSON
   (``donnees.json``) and the erasure form.
3. ``POST /mes-donnees/<token>/supprimer/`` with the confirmation box: erasure (``subject_erase``);
   the link stops working.

Plain Django views (CSRF on), no script; answers are never cached (``never_cache``) and never
indexed. The request endpoint is rate-limited by ``config.ratelimit`` (scope ``privacy_request``).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from geo.honeypot import honeypot_tripped
from geo.honeypot import message as honeypot_message
from privacy.forms import EraseForm, RequestForm
from privacy.links import subject_link_send, subject_request_for
from privacy.models import SubjectRequest
from privacy.subject import subject_erase, subject_export, subject_summary


def _private(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return _private(render(request, f"privacy/{template}", {"nav": "privacy", **context}, status=status))


@never_cache
@require_http_methods(["GET", "POST"])
def request_link(request: HttpRequest) -> HttpResponse:
    periods = {
        "contacts": settings.RETENTION_REPORT_CONTACT_DAYS,
        "authors": settings.RETENTION_CONTRIBUTION_AUTHORS_DAYS,
        "photos": settings.RETENTION_PHOTO_ORIGINALS_DAYS,
    }
    if request.method != "POST":
        return _render(request, "request.html", {"form": RequestForm(), "retention": periods})
    if honeypot_tripped(request.POST):
        context = {"form": RequestForm(), "refused": honeypot_message(), "retention": periods}
        return _render(request, "request.html", context, status=400)
    form = RequestForm(request.POST)
    if not form.is_valid():
        return _render(request, "request.html", {"form": form, "retention": periods}, status=400)
    subject_link_send(email=form.cleaned_data["email"])
    hours = max(1, int(settings.PRIVACY_LINK_MAX_AGE_SECONDS) // 3600)
    return _render(request, "request_sent.html", {"hours": hours})


def _expired(request: HttpRequest) -> HttpResponse:
    return _render(request, "expired.html", {}, status=404)


def _subject_context(subject_request: SubjectRequest, token: str) -> dict[str, Any]:
    export = subject_export(subject_request.email)
    summary = subject_summary(export)
    return {
        "token": token,
        "export": export,
        "summary": summary,
        "has_data": any(summary.values()),
        "expires_at": subject_request.expires_at,
    }


@never_cache
@require_http_methods(["GET"])
def subject_page(request: HttpRequest, token: str) -> HttpResponse:
    subject_request = subject_request_for(token)
    if subject_request is None:
        return _expired(request)
    return _render(request, "subject.html", {**_subject_context(subject_request, token), "form": EraseForm()})


@never_cache
@require_http_methods(["GET"])
def subject_download(request: HttpRequest, token: str) -> HttpResponse:
    subject_request = subject_request_for(token)
    if subject_request is None:
        return _expired(request)
    body = json.dumps(subject_export(subject_request.email), ensure_ascii=False, indent=2)
    if subject_request.exported_at is None:
        SubjectRequest.objects.filter(pk=subject_request.pk).update(exported_at=timezone.now())
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mes-donnees-concerto.json"'
    return _private(response)


@never_cache
@require_POST
def subject_erase_view(request: HttpRequest, token: str) -> HttpResponse:
    subject_request = subject_request_for(token)
    if subject_request is None:
        return _expired(request)
    form = EraseForm(request.POST)
    if not form.is_valid():
        context = {**_subject_context(subject_request, token), "form": form}
        return _render(request, "subject.html", context, status=400)
    counts = subject_erase(subject_request.email)
    SubjectRequest.objects.filter(pk=subject_request.pk).update(
        email="", erased_at=timezone.now(), erased_counts=counts
    )
    return _render(request, "erased.html", {"total": sum(counts.values())})
