"""Writes of the urbanisme domain: projects, calendar, documents, contributions, answers, moderation.

Each function is keyword-only and atomic; the outbox rows of its notifications are written in the
same transaction (``geo.outbox``), so an accepted contribution and the e-mails it causes are
durable before the answer is sent and survive a broker outage. Permission checks happen here, so
that the API, the pages and the commands get the same rules. Calendar rules come from
``urbanisme.phases``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from geo.images import ImageError, strip_and_resize, validate_image
from geo.models import Organisation, Territory
from geo.shapes import ShapeLimits, clean_drawn_shape
from geo.srid import STORAGE_SRID, InvalidGeometry, geometry_from_geojson, sql_buffer_m, to_storage
from geo.text import clean_text as _clean_text
from geo.text import person_fingerprint
from urbanisme import notifications, permissions
from urbanisme.errors import Closed, Conflict, Forbidden, NotFound, ValidationFailed
from urbanisme.models import (
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Contribution,
    ContributionAuthor,
    ContributionChannel,
    ContributionKind,
    ContributionSupport,
    Document,
    DocumentKind,
    Moderation,
    NoticeKind,
    Phase,
    PhaseKind,
    PhaseNotice,
    Project,
    ProjectFollower,
    ProjectStatus,
    Reply,
    Theme,
    Visibility,
)
from urbanisme.phases import (
    PhaseDates,
    TimelineError,
    closes_at,
    current_phase,
    notices_due,
    opens_at,
    validate_timeline,
)

PSEUDONYM_MAX = 60
WEB_PHOTO_MAX_SIDE = 1600
_PDF_MAGIC = b"%PDF-"


# --- small helpers -------------------------------------------------------------------------------


def clean_text(value: str | None, *, max_length: int, field: str, required: bool = False) -> str:
    """``geo.text.clean_text`` raising this domain's validation error."""
    return _clean_text(value, max_length=max_length, field=field, required=required, error=ValidationFailed)


def _clean_email(value: str | None, field: str = "email") -> str:
    email = (value or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed({field: [_("Adresse e-mail invalide.")]}) from exc
    return email.lower()


def _require(allowed: bool) -> None:
    if not allowed:
        raise Forbidden(_("Vous n'avez pas les droits nécessaires sur ce projet."))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def support_fingerprint(*, user: Any = None, email: str = "", client: str = "") -> str:
    """A keyed hash that counts each person once without storing who they are (``geo.text``)."""
    return person_fingerprint(user=user, email=email, client=client, scope="urbanisme")


def phase_dates(phases: Sequence[Phase]) -> list[PhaseDates]:
    return [
        PhaseDates(
            key=p.pk,
            label=p.label,
            start=p.start_date,
            end=p.end_date,
            allows_contributions=p.allows_contributions,
            allows_supports=p.allows_supports,
        )
        for p in phases
    ]


def project_current_phase(project: Project, now: datetime | None = None) -> Phase | None:
    """The phase whose days include today in Europe/Paris, derived from the dates."""
    phases = list(project.phases.all())
    found = current_phase(phase_dates(phases), now or timezone.now())
    return next((p for p in phases if p.pk == found.key), None) if found else None


def _perimeter(value: Any) -> MultiPolygon:
    try:
        geom = value if isinstance(value, GEOSGeometry) else geometry_from_geojson(value)
        geom = to_storage(geom)
    except InvalidGeometry as exc:
        raise ValidationFailed({"perimeter": [str(exc)]}) from exc
    if geom.geom_type == "Polygon":
        geom = MultiPolygon(geom, srid=STORAGE_SRID)
    if geom.geom_type != "MultiPolygon":
        raise ValidationFailed({"perimeter": [_("Le périmètre doit être un polygone ou un multipolygone.")]})
    if not geom.valid:
        fixed: Any = geom.make_valid()
        polygons = [fixed] if fixed.geom_type == "Polygon" else [g for g in fixed if g.geom_type == "Polygon"]
        if not polygons:
            raise ValidationFailed(
                {"perimeter": [_("Le périmètre est invalide et ne peut pas être réparé.")]}
            )
        geom = MultiPolygon(*polygons, srid=STORAGE_SRID)
    assert isinstance(geom, MultiPolygon)
    geom.srid = STORAGE_SRID
    return geom


# --- projects ------------------------------------------------------------------------------------


# Path segments of the pages under /projets/ that a project slug must not take.
RESERVED_SLUGS = frozenset({"abonnement", "desabonnement", "nouveau-projet"})


def _unique_slug(title: str, wanted: str | None) -> str:
    base = slugify(wanted or title)[:90] or "projet"
    if base in RESERVED_SLUGS:
        base = f"{base}-projet"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def project_create(
    *,
    actor: Any,
    territory: Territory,
    organisation: Organisation,
    title: str,
    perimeter: Any,
    slug: str | None = None,
    summary: str = "",
    description: str = "",
    contact_name: str = "",
    contact_email: str = "",
    moderation: str = Moderation.POST,
    contribution_margin_m: int = 200,
    themes: Sequence[str] = (),
    source: str = "",
) -> Project:
    """A draft project: nothing is public until :func:`project_publish`."""
    _require(actor is None or permissions.can_create_project(actor, organisation))
    if moderation not in Moderation.values:
        raise ValidationFailed({"moderation": [_("Mode de modération inconnu.")]})
    if not 0 <= int(contribution_margin_m) <= 5000:
        raise ValidationFailed(
            {"contribution_margin_m": [_("La marge doit être comprise entre 0 et 5 000 m.")]}
        )
    title = clean_text(title, max_length=TITLE_MAX_LENGTH, field="title", required=True)
    project = Project.objects.create(
        territory=territory,
        organisation=organisation,
        title=title,
        slug=_unique_slug(title, slug),
        summary=clean_text(summary, max_length=500, field="summary"),
        description=clean_text(description, max_length=20000, field="description"),
        perimeter=_perimeter(perimeter),
        contact_name=clean_text(contact_name, max_length=200, field="contact_name"),
        contact_email=_clean_email(contact_email, "contact_email"),
        moderation=moderation,
        contribution_margin_m=int(contribution_margin_m),
        source=clean_text(source, max_length=300, field="source"),
    )
    for position, name in enumerate(themes):
        Theme.objects.create(
            project=project,
            name=clean_text(name, max_length=100, field="themes", required=True),
            position=position,
        )
    return project


_EDITABLE = {
    "title": TITLE_MAX_LENGTH,
    "summary": 500,
    "description": 20000,
    "contact_name": 200,
    "bilan_conclusion": 20000,
}


@transaction.atomic
def project_update(*, project: Project, actor: Any, **fields: Any) -> Project:
    _require(permissions.can_manage_project(actor, project))
    project = Project.objects.select_for_update().get(pk=project.pk)
    for name, value in fields.items():
        if name in _EDITABLE:
            setattr(
                project,
                name,
                clean_text(value, max_length=_EDITABLE[name], field=name, required=name == "title"),
            )
        elif name == "contact_email":
            project.contact_email = _clean_email(value, name)
        elif name == "perimeter":
            project.perimeter = _perimeter(value)
        elif name == "moderation":
            if value not in Moderation.values:
                raise ValidationFailed({"moderation": [_("Mode de modération inconnu.")]})
            project.moderation = value
        elif name == "contribution_margin_m":
            if not 0 <= int(value) <= 5000:
                raise ValidationFailed({name: [_("La marge doit être comprise entre 0 et 5 000 m.")]})
            project.contribution_margin_m = int(value)
        else:
            raise ValidationFailed({name: [_("Ce champ ne peut pas être modifié.")]})
    project.save()
    return project


@transaction.atomic
def project_set_status(*, project: Project, actor: Any, status: str) -> Project:
    """Publish (it needs a calendar), archive, or take back to draft."""
    _require(permissions.can_manage_project(actor, project))
    if status not in ProjectStatus.values:
        raise ValidationFailed({"status": [_("Statut inconnu.")]})
    project = Project.objects.select_for_update().get(pk=project.pk)
    if status == ProjectStatus.PUBLISHED and not project.phases.exists():
        raise ValidationFailed(
            {"status": [_("Ajoutez au moins une phase au calendrier avant de publier le projet.")]}
        )
    project.status = status
    if status == ProjectStatus.PUBLISHED and project.published_at is None:
        project.published_at = timezone.now()
    project.save(update_fields=["status", "published_at", "updated_at"])
    return project


@dataclass(frozen=True)
class PhaseInput:
    kind: str
    start_date: date
    end_date: date
    title: str = ""
    description: str = ""
    allows_contributions: bool = False
    allows_supports: bool = False
    id: int | None = None


@transaction.atomic
def phases_replace(*, project: Project, actor: Any, phases: Sequence[PhaseInput]) -> list[Phase]:
    """Replace the whole calendar at once, so that checking order and overlaps sees every phase.

    The database's no-overlap constraint is deferred to the commit, since moving two phases one
    after the other passes through states that overlap.

    Phases are matched by ``id``; a phase that already holds contributions cannot be removed (they
    would lose their context), only edited.
    """
    _require(permissions.can_manage_project(actor, project))
    Project.objects.select_for_update().get(pk=project.pk)
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(phases):
        if item.kind not in PhaseKind.values:
            errors.setdefault(f"phases[{index}].kind", []).append(_("Type de phase inconnu."))
    if errors:
        raise ValidationFailed(errors)
    titles = [clean_text(p.title, max_length=TITLE_MAX_LENGTH, field="title") for p in phases]
    try:
        validate_timeline(
            [
                PhaseDates(
                    key=i, label=titles[i] or str(PhaseKind(p.kind).label), start=p.start_date, end=p.end_date
                )
                for i, p in enumerate(phases)
            ]
        )
    except TimelineError as exc:
        raise ValidationFailed({"phases": exc.errors}) from exc

    existing = {p.pk: p for p in project.phases.select_for_update()}
    kept_ids = {p.id for p in phases if p.id}
    unknown = kept_ids - set(existing)
    if unknown:
        raise ValidationFailed(
            {"phases": [_("Phase inconnue pour ce projet : %(ids)s.") % {"ids": sorted(unknown)}]}
        )
    removed = [p for pk, p in existing.items() if pk not in kept_ids]
    with_contributions = [p for p in removed if p.contributions.exists()]
    if with_contributions:
        raise Conflict(
            _("La phase « %(phase)s » contient des contributions : elle ne peut pas être supprimée.")
            % {"phase": with_contributions[0].label}
        )
    for phase in removed:
        phase.delete()
    result: list[Phase] = []
    for index, item in enumerate(phases):
        values = {
            "kind": item.kind,
            "title": titles[index],
            "description": clean_text(item.description, max_length=TEXT_MAX_LENGTH, field="description"),
            "start_date": item.start_date,
            "end_date": item.end_date,
            "allows_contributions": bool(item.allows_contributions),
            "allows_supports": bool(item.allows_supports),
        }
        if item.id:
            phase = existing[item.id]
            for key, value in values.items():
                setattr(phase, key, value)
            phase.save()
        else:
            phase = Phase.objects.create(project=project, **values)
        result.append(phase)
    return sorted(result, key=lambda p: p.start_date)


@transaction.atomic
def theme_add(*, project: Project, actor: Any, name: str) -> Theme:
    _require(permissions.can_manage_project(actor, project))
    name = clean_text(name, max_length=100, field="name", required=True)
    theme, _created = Theme.objects.get_or_create(
        project=project, name=name, defaults={"position": project.themes.count()}
    )
    return theme


# --- documents -----------------------------------------------------------------------------------


def _read_upload(upload: Any, limit: int) -> bytes:
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(
            {"file": [_("Fichier trop volumineux : %(max)d Mo au plus.") % {"max": limit // (1024 * 1024)}]},
            status=413,
            code="fichier_trop_gros",
        )
    if not data:
        raise ValidationFailed({"file": [_("Le fichier est vide.")]})
    return data


@transaction.atomic
def document_add(*, project: Project, actor: Any, title: str, upload: Any) -> Document:
    """A PDF (checked by its signature, not its name) or an image (re-encoded, without EXIF)."""
    _require(permissions.can_manage_project(actor, project))
    title = clean_text(title, max_length=TITLE_MAX_LENGTH, field="title", required=True)
    data = _read_upload(upload, settings.URBANISME_DOCUMENT_MAX_BYTES)
    stem = slugify(title)[:60] or "document"
    if data.startswith(_PDF_MAGIC):
        if b"%%EOF" not in data[-2048:]:
            raise ValidationFailed({"file": [_("Ce PDF est tronqué ou endommagé : envoyez-le à nouveau.")]})
        kind, content, name = DocumentKind.PDF, data, f"{stem}.pdf"
    else:
        try:
            image = validate_image(ContentFile(data), max_bytes=settings.URBANISME_DOCUMENT_MAX_BYTES)
        except ImageError as exc:
            raise ValidationFailed(
                {
                    "file": [
                        _("Type de document non accepté : PDF, JPEG, PNG ou WebP uniquement. (%(reason)s)")
                        % {"reason": exc}
                    ]
                },
                status=422,
                code="type_de_fichier",
            ) from exc
        content = strip_and_resize(image.data, max_side=4000)
        kind, name = DocumentKind.IMAGE, f"{stem}.jpg"
    document = Document(
        project=project,
        title=title,
        kind=kind,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        position=project.documents.count(),
    )
    document.file.save(name, ContentFile(content), save=False)
    document.save()
    return document


@transaction.atomic
def project_set_cover(*, project: Project, actor: Any, upload: Any) -> Project:
    _require(permissions.can_manage_project(actor, project))
    try:
        image = validate_image(upload)
    except ImageError as exc:
        raise ValidationFailed({"cover_image": [str(exc)]}, status=422, code="image_invalide") from exc
    project.cover_image.save(
        f"{project.slug}.jpg", ContentFile(strip_and_resize(image.data, max_side=1600)), save=True
    )
    return project


# --- followers -----------------------------------------------------------------------------------


@transaction.atomic
def project_follow(*, project: Project, email: str, user: Any = None) -> ProjectFollower:
    """Ask to follow; the confirmation e-mail (double opt-in) is written to the outbox."""
    email = _clean_email(email)
    if not email:
        raise ValidationFailed({"email": [_("Indiquez une adresse e-mail.")]})
    existing = ProjectFollower.objects.filter(project=project, email=email).first()
    if existing and existing.confirmed_at:
        return existing
    token = secrets.token_urlsafe(24)
    if existing:
        existing.confirm_token_hash = _hash_token(token)
        existing.save(update_fields=["confirm_token_hash"])
        follower = existing
    else:
        follower = ProjectFollower.objects.create(
            project=project,
            email=email,
            user=user if getattr(user, "is_authenticated", False) else None,
            confirm_token_hash=_hash_token(token),
        )
    notifications.notify_follow_confirmation(follower=follower, token=token)
    return follower


@transaction.atomic
def project_follow_confirm(*, token: str) -> ProjectFollower:
    follower = ProjectFollower.objects.filter(confirm_token_hash=_hash_token(token)).first()
    if follower is None:
        raise NotFound(_("Lien d'abonnement inconnu ou expiré."))
    if follower.confirmed_at is None:
        follower.confirmed_at = timezone.now()
        follower.save(update_fields=["confirmed_at"])
    return follower


@transaction.atomic
def project_unfollow(*, token: str) -> None:
    """One click from any e-mail; the address is erased, not flagged."""
    try:
        follower_id = signing.loads(token, salt=notifications.UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise NotFound(_("Lien de désabonnement invalide.")) from exc
    ProjectFollower.objects.filter(pk=follower_id).delete()


# --- contributions -------------------------------------------------------------------------------


def _contribution_geometry(project: Project, raw: Any) -> GEOSGeometry:
    try:
        geom = raw if isinstance(raw, GEOSGeometry) else geometry_from_geojson(raw)
        shape = clean_drawn_shape(
            geom, limits=ShapeLimits(max_area_m2=settings.URBANISME_CONTRIBUTION_MAX_AREA_M2)
        )
    except InvalidGeometry as exc:
        raise ValidationFailed({"geometry": [str(exc)]}, status=422, code="geometrie_invalide") from exc
    inside = _within_margin(project, shape.geometry)
    if not inside:
        raise ValidationFailed(
            {
                "geometry": [
                    _(
                        "La contribution doit être placée dans le périmètre du projet « %(project)s » "
                        "ou à moins de %(margin)d m de celui-ci."
                    )
                    % {"project": project.title, "margin": project.contribution_margin_m}
                ]
            },
            status=422,
            code="hors_perimetre",
        )
    return shape.geometry


def _within_margin(project: Project, geom: GEOSGeometry) -> bool:
    """The whole shape inside the perimeter or its margin: a long line must not escape by one end."""
    sql = (
        "SELECT ST_CoveredBy(q.g, p.perimeter) "
        f"OR (%s > 0 AND ST_CoveredBy(q.g, {sql_buffer_m('p.perimeter', '%s')})) "
        "FROM urbanisme_project p, (SELECT ST_GeomFromEWKB(%s) AS g) q WHERE p.id = %s"
    )
    margin = project.contribution_margin_m
    with connection.cursor() as cursor:
        cursor.execute(sql, [margin, margin, bytes(geom.ewkb), project.pk])
        row = cursor.fetchone()
    return bool(row and row[0])


def _store_photo(contribution: Contribution, upload: Any) -> None:
    try:
        image = validate_image(upload)
    except ImageError as exc:
        raise ValidationFailed({"photo": [str(exc)]}, status=422, code="photo_invalide") from exc
    stem = secrets.token_hex(8)
    contribution.photo_original.save(f"{stem}.{image.format.lower()}", ContentFile(image.data), save=False)
    contribution.photo_web.save(
        f"{stem}.jpg", ContentFile(strip_and_resize(image.data, max_side=WEB_PHOTO_MAX_SIDE)), save=False
    )


@dataclass(frozen=True)
class AuthorInput:
    name: str = ""
    email: str = ""
    notify: bool = True
    follow_project: bool = False


@transaction.atomic
def contribution_create(
    *,
    project: Project,
    kind: str,
    title: str,
    text: str,
    geometry: Any,
    actor: Any = None,
    pseudonym: str = "",
    theme_id: int | None = None,
    author: AuthorInput | None = None,
    photo: Any = None,
    channel: str = ContributionChannel.WEB,
    channel_label: str = "",
    phase_id: int | None = None,
    created_at: datetime | None = None,
    now: datetime | None = None,
) -> Contribution:
    """File a contribution while the current phase takes them, or enter one on behalf of participants.

    On-behalf entry (any channel but ``web``) is for the project team: it may name a past phase that
    took contributions (the meeting was held then) and the date the participant spoke; the agent
    is recorded in ``entered_by``.
    """
    now = now or timezone.now()
    project = Project.objects.get(pk=project.pk)
    if channel not in ContributionChannel.values:
        raise ValidationFailed({"channel": [_("Canal inconnu.")]})
    on_behalf = channel != ContributionChannel.WEB
    phase = _phase_for_contribution(project, actor=actor, on_behalf=on_behalf, phase_id=phase_id, now=now)
    if kind not in ContributionKind.values:
        raise ValidationFailed(
            {"kind": [_("Nature inconnue : idée, question, inquiétude, soutien ou autre.")]}
        )
    theme = None
    if theme_id is not None:
        theme = project.themes.filter(pk=theme_id).first()
        if theme is None:
            raise ValidationFailed({"theme": [_("Thème inconnu pour ce projet.")]})
    author = author or AuthorInput()
    contribution = Contribution(
        project=project,
        phase=phase,
        kind=kind,
        theme=theme,
        title=clean_text(title, max_length=TITLE_MAX_LENGTH, field="title", required=True),
        text=clean_text(text, max_length=TEXT_MAX_LENGTH, field="text", required=True),
        geom=_contribution_geometry(project, geometry),
        pseudonym=clean_text(pseudonym, max_length=PSEUDONYM_MAX, field="pseudonym"),
        channel=channel,
        channel_label=clean_text(channel_label, max_length=200, field="channel_label"),
        visibility=Visibility.PENDING
        if project.moderation == Moderation.PRE and not on_behalf
        else Visibility.PUBLISHED,
        author_user=actor if getattr(actor, "is_authenticated", False) and not on_behalf else None,
        entered_by=actor if on_behalf else None,
        created_at=_on_behalf_date(created_at, phase, now) if on_behalf else now,
    )
    if on_behalf and not contribution.channel_label:
        raise ValidationFailed(
            {
                "channel_label": [
                    _("Précisez la réunion ou le registre (par exemple « réunion publique du 12 mars »).")
                ]
            }
        )
    if photo is not None:
        _store_photo(contribution, photo)
    contribution.save()
    email = _clean_email(author.email)
    name = clean_text(author.name, max_length=200, field="name")
    if email or name:
        ContributionAuthor.objects.create(
            contribution=contribution, name=name, email=email, notify=author.notify
        )
    if email and author.follow_project:
        project_follow(project=project, email=email, user=actor)
    return contribution


def _phase_for_contribution(
    project: Project, *, actor: Any, on_behalf: bool, phase_id: int | None, now: datetime
) -> Phase:
    if project.status != ProjectStatus.PUBLISHED:
        raise NotFound(_("Projet introuvable."))
    if on_behalf:
        _require(permissions.can_moderate_project(actor, project))
        if phase_id is not None:
            phase = project.phases.filter(pk=phase_id).first()
            if phase is None or not phase.allows_contributions:
                raise ValidationFailed({"phase": [_("Cette phase ne recueille pas de contributions.")]})
            if phase.start_date > timezone.localdate(now):
                raise ValidationFailed({"phase": [_("Cette phase n'a pas encore commencé.")]})
            return phase
    phase = project_current_phase(project, now)
    if phase is None or not phase.allows_contributions:
        raise Closed(_("Les contributions ne sont pas ouvertes actuellement pour ce projet."))
    return phase


def _on_behalf_date(value: datetime | None, phase: Phase, now: datetime) -> datetime:
    if value is None:
        return now
    if value > now:
        raise ValidationFailed(
            {"created_at": [_("La date de la contribution ne peut pas être dans le futur.")]}
        )
    if not opens_at(phase.start_date) <= value < closes_at(phase.end_date):
        raise ValidationFailed({"created_at": [_("La date doit tomber pendant la phase choisie.")]})
    return value


def _require_open(contribution: Contribution, now: datetime, *, supports: bool = False) -> Phase:
    """Contributions of a closed phase are frozen: readable, never changed by the public."""
    phase = project_current_phase(contribution.project, now)
    if phase is None or phase.pk != contribution.phase_id:
        raise Closed(
            _("Cette phase de la concertation est close : les contributions sont consultables mais figées.")
        )
    if supports and not phase.allows_supports:
        raise Closed(_("Les soutiens ne sont pas ouverts pendant cette phase."))
    if not supports and not phase.allows_contributions:
        raise Closed(_("Les réponses ne sont pas ouvertes pendant cette phase."))
    return phase


@transaction.atomic
def contribution_reply(
    *,
    contribution: Contribution,
    text: str,
    actor: Any = None,
    pseudonym: str = "",
    author: AuthorInput | None = None,
    parent_id: int | None = None,
    now: datetime | None = None,
) -> Reply:
    """A citizen's reply in the thread, while the contribution's phase is open."""
    now = now or timezone.now()
    contribution = Contribution.objects.select_related("project").get(pk=contribution.pk)
    if contribution.visibility != Visibility.PUBLISHED:
        raise NotFound(_("Contribution introuvable."))
    _require_open(contribution, now)
    parent = _parent(contribution, parent_id)
    reply = Reply.objects.create(
        contribution=contribution,
        parent=parent,
        text=clean_text(text, max_length=TEXT_MAX_LENGTH, field="text", required=True),
        pseudonym=clean_text(pseudonym, max_length=PSEUDONYM_MAX, field="pseudonym"),
        visibility=Visibility.PENDING
        if contribution.project.moderation == Moderation.PRE
        else Visibility.PUBLISHED,
        author_user=actor if getattr(actor, "is_authenticated", False) else None,
    )
    author = author or AuthorInput()
    email = _clean_email(author.email)
    if email or author.name:
        ContributionAuthor.objects.create(
            reply=reply,
            name=clean_text(author.name, max_length=200, field="name"),
            email=email,
            notify=author.notify,
        )
    return reply


def _parent(contribution: Contribution, parent_id: int | None) -> Reply | None:
    if parent_id is None:
        return None
    parent = contribution.replies.filter(pk=parent_id, visibility=Visibility.PUBLISHED).first()
    if parent is None:
        raise ValidationFailed({"parent": [_("Réponse parente introuvable dans ce fil.")]})
    return parent


@transaction.atomic
def official_answer(*, contribution: Contribution, actor: Any, text: str, pseudonym: str = "") -> Reply:
    """The project team's answer, marked as such and published at once, even after the phase closed.

    The contributor (and those who replied and asked to be told) are notified through the outbox.
    """
    contribution = Contribution.objects.select_related("project").get(pk=contribution.pk)
    _require(permissions.can_moderate_project(actor, contribution.project))
    signature = pseudonym or contribution.project.contact_name or _("L'équipe du projet")
    reply = Reply.objects.create(
        contribution=contribution,
        text=clean_text(text, max_length=TEXT_MAX_LENGTH, field="text", required=True),
        pseudonym=clean_text(signature, max_length=PSEUDONYM_MAX, field="pseudonym"),
        is_official=True,
        visibility=Visibility.PUBLISHED,
        author_user=actor,
    )
    notifications.notify_official_answer(reply=reply)
    return reply


@transaction.atomic
def contribution_support(
    *,
    contribution: Contribution,
    user: Any = None,
    email: str = "",
    client: str = "",
    now: datetime | None = None,
) -> tuple[Contribution, bool]:
    """A « +1 », once per person; returns the contribution and whether this support was new."""
    now = now or timezone.now()
    contribution = Contribution.objects.select_related("project").get(pk=contribution.pk)
    if contribution.visibility != Visibility.PUBLISHED:
        raise NotFound(_("Contribution introuvable."))
    _require_open(contribution, now, supports=True)
    fingerprint = support_fingerprint(user=user, email=_clean_email(email), client=client)
    try:
        with transaction.atomic():
            ContributionSupport.objects.create(
                contribution=contribution,
                fingerprint=fingerprint,
                user=user if getattr(user, "is_authenticated", False) else None,
            )
    except IntegrityError:
        return contribution, False
    Contribution.objects.filter(pk=contribution.pk).update(supports_count=F("supports_count") + 1)
    contribution.refresh_from_db(fields=["supports_count"])
    return contribution, True


@transaction.atomic
def contribution_moderate(
    *, contribution: Contribution, actor: Any, action: str, reason: str = ""
) -> Contribution:
    """Publish, or hide with a reason shown publicly (« masqué par la modération : propos injurieux »)."""
    contribution = Contribution.objects.select_for_update().select_related("project").get(pk=contribution.pk)
    _require(permissions.can_moderate_project(actor, contribution.project))
    _apply_moderation(contribution, action, reason)
    contribution.moderated_at = timezone.now()
    contribution.moderated_by = actor
    contribution.save(
        update_fields=["visibility", "hidden_reason", "moderated_at", "moderated_by", "updated_at"]
    )
    return contribution


@transaction.atomic
def reply_moderate(*, reply: Reply, actor: Any, action: str, reason: str = "") -> Reply:
    reply = Reply.objects.select_for_update().select_related("contribution__project").get(pk=reply.pk)
    _require(permissions.can_moderate_project(actor, reply.contribution.project))
    _apply_moderation(reply, action, reason)
    reply.save(update_fields=["visibility", "hidden_reason"])
    return reply


def _apply_moderation(item: Contribution | Reply, action: str, reason: str) -> None:
    if action == "publish":
        item.visibility, item.hidden_reason = Visibility.PUBLISHED, ""
    elif action == "hide":
        reason = clean_text(reason, max_length=300, field="reason")
        if not reason:
            raise ValidationFailed(
                {"reason": [_("Indiquez le motif du masquage : il est affiché publiquement.")]}
            )
        item.visibility, item.hidden_reason = Visibility.HIDDEN, reason
    else:
        raise ValidationFailed({"action": [_("Action inconnue : « publish » ou « hide ».")]})


@transaction.atomic
def contribution_set_theme(*, contribution: Contribution, actor: Any, theme_id: int | None) -> Contribution:
    """Moderators classify what contributors left without a theme; the bilan says so."""
    contribution = Contribution.objects.select_for_update().select_related("project").get(pk=contribution.pk)
    _require(permissions.can_moderate_project(actor, contribution.project))
    theme = None
    if theme_id is not None:
        theme = contribution.project.themes.filter(pk=theme_id).first()
        if theme is None:
            raise ValidationFailed({"theme": [_("Thème inconnu pour ce projet.")]})
    contribution.theme = theme
    contribution.save(update_fields=["theme", "updated_at"])
    return contribution


# --- calendar notices and the bilan ---------------------------------------------------------------


@transaction.atomic
def bilan_publish(*, project: Project, actor: Any, conclusion: str | None = None) -> Project:
    """Publish the bilan (its figures are computed from the data) and tell the followers."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    _require(permissions.can_manage_project(actor, project))
    if conclusion is not None:
        project.bilan_conclusion = clean_text(conclusion, max_length=20000, field="conclusion")
    first = project.bilan_published_at is None
    project.bilan_published_at = project.bilan_published_at or timezone.now()
    project.save(update_fields=["bilan_conclusion", "bilan_published_at", "updated_at"])
    if first:
        _send_notice(project, None, NoticeKind.BILAN)
    return project


def _send_notice(project: Project, phase: Phase | None, kind: str) -> PhaseNotice | None:
    """Write the notice row and its e-mails together; a second call for the same notice does nothing."""
    try:
        with transaction.atomic():
            notice = PhaseNotice.objects.create(project=project, phase=phase, kind=kind)
    except IntegrityError:
        return None
    notice.recipients = notifications.notify_followers(
        project=project, phase=phase, kind=kind, notice_id=notice.pk
    )
    notice.save(update_fields=["recipients"])
    return notice


def phases_tick(*, now: datetime | None = None) -> int:
    """Beat: send the calendar notices that are due (opening, 3 days left, closing). Returns how many."""
    now = now or timezone.now()
    sent = 0
    projects = Project.objects.filter(status=ProjectStatus.PUBLISHED).prefetch_related("phases")
    for project in projects:
        phases = {p.pk: p for p in project.phases.all()}
        for due in notices_due(phase_dates(list(phases.values())), now):
            with transaction.atomic():
                if _send_notice(project, phases[due.phase_key], due.kind) is not None:
                    sent += 1
    return sent
