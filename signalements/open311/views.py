"""Open311 GeoReport v2 endpoints: parse the spec's parameters, call a service or a selector, render.

Every answer is JSON or XML by the URL suffix; every refusal is in the spec's error envelope with
its HTTP status (400 bad input, 403 API key, 404 unknown service, request or jurisdiction). Reports
are filed by ``signalements.services.report_create`` like any other channel (``Channel.OPEN311``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from geo.models import Organisation, Territory
from geo.srid import InvalidGeometry, point_from_lonlat
from signalements import services
from signalements.errors import ReportError, ValidationFailed
from signalements.models import ApiClient, Channel
from signalements.open311 import keys, selectors, serializers
from signalements.open311.renderers import XML, Open311Error, render, render_error

logger = logging.getLogger(__name__)

# The date our Open311 interface last changed (discovery's ``changeset``).
CHANGESET = "2026-11-22T00:00:00+01:00"

# Codes of the domain's refusals that mean « this service_code does not exist ».
UNKNOWN_SERVICE_CODES = {"categorie_inconnue", "categorie_trop_generale"}


class Open311View(View):
    """Errors raised as :class:`Open311Error` become the envelope in the requested format."""

    http_method_names = ["get", "post", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        fmt = kwargs.get("fmt", XML)
        try:
            return super().dispatch(request, *args, **kwargs)
        except Open311Error as exc:
            return render_error(fmt, exc)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = render_error(kwargs.get("fmt", XML), Open311Error(405, _("Méthode non autorisée.")))
        response["Allow"] = ", ".join(m.upper() for m in self.http_method_names if hasattr(self, m))
        return response


def _jurisdiction(params: Any) -> Territory | None:
    """``jurisdiction_id`` is a territory's slug; optional, since one instance may serve several."""
    slug = (params.get("jurisdiction_id") or "").strip()
    if not slug:
        return None
    territory = selectors.territory_get(slug)
    if territory is None:
        raise Open311Error(404, _("jurisdiction_id inconnu : « %(id)s ».") % {"id": slug})
    return territory


def _base_url() -> str:
    discovery = reverse("open311:discovery", kwargs={"fmt": "json"})
    return serializers.absolute(discovery.rsplit("/", 1)[0])


class Discovery(Open311View):
    def get(self, request: HttpRequest, fmt: str) -> HttpResponse:
        organisations = ", ".join(
            Organisation.objects.filter(territories__isnull=False).distinct().values_list("name", flat=True)
        )
        body = serializers.discovery(
            base_url=_base_url(),
            changeset=CHANGESET,
            contact=_("Administrateur de la plateforme %(orgs)s : %(url)s")
            % {"orgs": organisations or "Concerto", "url": settings.PUBLIC_BASE_URL},
            key_service=_(
                "Une clé d'API (api_key) est nécessaire pour déposer une demande ; demandez-la à "
                "l'administrateur de la plateforme (%(url)s). La consultation est libre, sans clé."
            )
            % {"url": settings.PUBLIC_BASE_URL},
        )
        return render(fmt, "discovery", body)


class ServiceList(Open311View):
    def get(self, request: HttpRequest, fmt: str) -> HttpResponse:
        _jurisdiction(request.GET)
        body = [serializers.service(category) for category in selectors.services_available()]
        return render(fmt, "services", body)


class ServiceDefinition(Open311View):
    def get(self, request: HttpRequest, fmt: str, code: str) -> HttpResponse:
        _jurisdiction(request.GET)
        category = selectors.service_get(code)
        if category is None:
            raise Open311Error(404, _("service_code inconnu : « %(code)s ».") % {"code": code})
        return render(fmt, "service_definition", serializers.service_definition(category))


def _paged(request: HttpRequest, rows: list[Any], page: int, size: int) -> dict[str, str]:
    """One row more than asked tells whether a next page exists: a ``Link`` header, no count query."""
    if len(rows) <= size:
        return {}
    query = request.GET.copy()
    query["page"] = str(page + 1)
    query["page_size"] = str(size)
    return {"Link": f'<{serializers.absolute(request.path)}?{query.urlencode()}>; rel="next"'}


@method_decorator(csrf_exempt, name="dispatch")  # API-key authentication, no cookie: CSRF does not apply
class Requests(Open311View):
    def get(self, request: HttpRequest, fmt: str) -> HttpResponse:
        params = request.GET
        territory = _jurisdiction(params)
        page, size = serializers.paging(params)
        qs = selectors.requests_public()
        if ids := serializers.codes(params, "service_request_id"):
            # The spec: a list of ids « overrides all other arguments ».
            qs = qs.filter(reference__in=ids)
        else:
            window = serializers.date_window(params, now=timezone.now())
            qs = selectors.requests_filter(
                qs,
                territory=territory,
                service_codes=serializers.codes(params, "service_code"),
                statuses=serializers.status_filter(params),
                start=window.start,
                end=window.end,
            )
        offset = (page - 1) * size
        rows = list(qs[offset : offset + size + 1])
        headers = _paged(request, rows, page, size)
        body = [serializers.service_request(report) for report in rows[:size]]
        return render(fmt, "service_requests", body, headers=headers)

    def post(self, request: HttpRequest, fmt: str) -> HttpResponse:
        try:
            form = request.POST
        except RequestDataTooBig as exc:
            raise Open311Error(400, _("La requête est trop volumineuse.")) from exc

        def get(name: str) -> str:
            """Body first, then the query string: the spec's own examples put parameters in both."""
            return form.get(name) or request.GET.get(name) or ""

        client = _client(get("api_key"))
        territory = _jurisdiction({"jurisdiction_id": get("jurisdiction_id")})
        if territory is not None and not selectors.client_allows(client, territory):
            raise Open311Error(403, _("Cette clé d'API ne permet pas de déposer sur ce territoire."))
        data = serializers.new_request(get)
        if selectors.service_get(data.service_code) is None:
            raise Open311Error(404, _("service_code inconnu : « %(code)s ».") % {"code": data.service_code})
        try:
            point = point_from_lonlat(data.lon, data.lat)
        except InvalidGeometry as exc:
            raise Open311Error(400, str(exc)) from exc
        _check_place(client, territory, point)
        key = (request.headers.get("Idempotency-Key") or "").strip()
        try:
            result = services.report_create(
                category=data.service_code,
                location=point,
                description=data.description,
                address=data.address,
                contact=services.ContactInput(name=data.name, email=data.email, phone=data.phone),
                idempotency_key=selectors.idempotency_key(client, key) if key else None,
                channel=Channel.OPEN311,
            )
        except ValidationFailed as exc:
            raise _refusal(exc, exc.errors) from exc
        except ReportError as exc:
            raise _refusal(exc, {}) from exc
        if result.created:
            logger.info("open311: %s filed by client %s", result.report.reference, client.pk)
        return render(fmt, "service_requests", [serializers.filed(result)])


def _check_place(client: ApiClient, territory: Territory | None, point: Point) -> None:
    """The point lies in the named territory (400 otherwise) and where the client may file (403)."""
    lon, lat = point.x, point.y
    if territory is not None and not selectors.territory_covers(territory, point):
        raise Open311Error(
            400,
            _("Ce point (%(lon).6f, %(lat).6f) est hors du territoire couvert « %(name)s ».")
            % {"lon": lon, "lat": lat, "name": territory.name},
        )
    if not selectors.client_may_file_at(client, point):
        if selectors.point_covered(point):
            raise Open311Error(403, _("Cette clé d'API ne permet pas de déposer sur ce territoire."))
        # Nowhere we serve: the router would say so too; say it before the client's restriction.
        raise Open311Error(
            400,
            _("Ce point (%(lon).6f, %(lat).6f) est hors du territoire couvert.") % {"lon": lon, "lat": lat},
        )


def _client(key: str) -> ApiClient:
    if not key.strip():
        raise Open311Error(403, _("Clé d'API manquante : ajoutez le paramètre api_key."))
    client = keys.api_client_for_key(key)
    if client is None:
        raise Open311Error(403, _("Clé d'API (api_key) invalide ou désactivée."))
    return client


def _refusal(exc: ReportError, errors: dict[str, list[str]]) -> Open311Error:
    """A refusal of the domain in the spec's codes: unknown service 404, everything else 400."""
    status = 404 if exc.code in UNKNOWN_SERVICE_CODES else 403 if exc.status == 403 else 400
    if not errors:
        return Open311Error(status, exc.message)
    descriptions = [
        f"{serializers.PARAMETER_OF_FIELD.get(name, name)} : {message}"
        for name, messages in errors.items()
        for message in messages
    ]
    return Open311Error(status, *descriptions)


class RequestDetail(Open311View):
    def get(self, request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
        territory = _jurisdiction(request.GET)
        qs = selectors.requests_filter(selectors.requests_public(), territory=territory)
        report = qs.filter(reference=request_id).first()
        if report is None:
            raise Open311Error(404, _("Demande introuvable : « %(id)s ».") % {"id": request_id})
        # The spec answers an array even for one request.
        return render(fmt, "service_requests", [serializers.service_request(report)])


class Token(Open311View):
    """We file synchronously: a token is a request id, or the ``Idempotency-Key`` a client sent."""

    def get(self, request: HttpRequest, fmt: str, token: str) -> HttpResponse:
        _jurisdiction(request.GET)
        key = (request.GET.get("api_key") or "").strip()
        client = keys.api_client_for_key(key) if key else None
        report = selectors.report_for_token(token, client=client)
        if report is None:
            raise Open311Error(404, _("Jeton inconnu : « %(token)s ».") % {"token": token})
        return render(fmt, "service_requests", [serializers.token(report.reference or "", token)])


class Updates(Open311View):
    """mySociety's ``servicerequestupdates``: the public trail of every request, oldest first."""

    def get(self, request: HttpRequest, fmt: str) -> HttpResponse:
        params = request.GET
        territory = _jurisdiction(params)
        page, size = serializers.paging(params)
        window = serializers.date_window(params, now=timezone.now())
        qs = selectors.updates_public(territory=territory, start=window.start, end=window.end)
        offset = (page - 1) * size
        rows = list(qs[offset : offset + size + 1])
        headers = _paged(request, rows, page, size)
        body = [serializers.request_update(event) for event in rows[:size]]
        return render(fmt, "service_request_updates", body, headers=headers)


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under /open311/v2/: the envelope, in JSON if the path asked for it."""
    fmt = "json" if path.endswith(".json") else XML
    return render_error(
        fmt, Open311Error(404, _("Ressource Open311 inconnue : « %(path)s ».") % {"path": path})
    )
