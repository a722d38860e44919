"""The organisation dashboard (/agents/tableau-de-bord/): its managers' and administrators' figures.

Signed-out visitors go to the sign-in page; signed-in people without a manager or administrator role
on some organisation get 403 (agents included). With several organisations, ``?organisation=<id>``
picks one among the user's own; any other id is a 404, so that nothing tells whether it exists.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from web import dashboard as figures
from web.views.common import map_config


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    organisations = figures.organisations_for(request.user)
    if not organisations:
        return render(request, "web/403.html", status=403)
    wanted = request.GET.get("organisation", "")
    organisation = (
        next((o for o in organisations if str(o.pk) == wanted), None) if wanted else organisations[0]
    )
    if organisation is None:
        raise Http404(_("Organisation introuvable."))
    data = figures.dashboard(organisation)
    config = map_config()
    if data["bounds"]:
        config["bounds"] = data["bounds"]
    return render(
        request,
        "web/dashboard.html",
        {
            "organisation": organisation,
            "organisations": organisations,
            "map_config": config,
            "nav": "dashboard",
            **data,
        },
    )
