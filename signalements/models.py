"""Reports, their tickets, followers and photos (the notification outbox is ``geo.OutboxMessage``).

Data and invariants only. Writes go through ``signalements.services``; the ticket workflow (which
state may follow which, and who may move it) lives in ``signalements.workflow``. Personal data
(the reporter's name, e-mail and phone; supporters' e-mails) is kept in its own tables, never on
``Report``, so that public queries cannot select it by accident.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.gis.db import models
from django.core.files.storage import Storage, storages
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from geo.models import Category, Membership, Organisation, Service
from geo.srid import STORAGE_SRID

DESCRIPTION_MAX_LENGTH = 4000


class TicketState(models.TextChoices):
    NOUVEAU = "nouveau", _("Nouveau")
    PRIS_EN_COMPTE = "pris_en_compte", _("Pris en compte")
    PROGRAMME = "programme", _("Programmé")
    EN_COURS = "en_cours", _("En cours")
    RESOLU = "resolu", _("Résolu")
    REJETE = "rejete", _("Rejeté")
    DOUBLON = "doublon", _("Doublon")
    TRANSFERE = "transfere", _("Transféré")


class Channel(models.TextChoices):
    API = "api", _("API")
    WEB = "web", _("Site web")
    MOBILE = "mobile", _("Application mobile")
    BACK_OFFICE = "back_office", _("Saisie par un agent")
    OPEN311 = "open311", _("Open311")
    IMPORT = "import", _("Import")


class Report(models.Model):
    """What a citizen saw, where. Public fields only; the contact lives in ``ReportContact``."""

    reference = models.CharField(_("référence"), max_length=32, unique=True, null=True, editable=False)
    location = models.PointField(_("emplacement"), srid=STORAGE_SRID)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("catégorie")
    )
    description = models.TextField(_("description"), max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    channel = models.CharField(_("canal"), max_length=20, choices=Channel.choices, default=Channel.API)
    published = models.BooleanField(
        _("publié"), default=True, help_text=_("Visible sur les pages et API publiques.")
    )
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        verbose_name=_("doublon de"),
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(_("déposé le"), db_index=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("signalement")
        verbose_name_plural = _("signalements")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(duplicate_of=models.F("pk")), name="report_not_own_duplicate"
            ),
        ]

    def __str__(self) -> str:
        return self.reference or f"#{self.pk}"


class ReportContact(models.Model):
    """Personal data of the reporter: never in a public page, API, tile or export."""

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="contact")
    name = models.CharField(_("nom"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    consent_to_contact = models.BooleanField(_("accepte d'être recontacté"), default=False)
    confirmed_at = models.DateTimeField(_("e-mail confirmé le"), null=True, blank=True)
    # sha256 of the private tracking token sent by e-mail; the token itself is never stored.
    tracking_token_hash = models.CharField(max_length=64, unique=True, null=True, editable=False)

    class Meta:
        verbose_name = _("contact du déclarant")
        verbose_name_plural = _("contacts des déclarants")

    def __str__(self) -> str:
        return str(_("Contact du signalement %(ref)s") % {"ref": self.report})


class Follower(models.Model):
    """Someone told of a report's public updates: its reporter, a supporter, or a merged duplicate's reporter."""

    class Reason(models.TextChoices):
        REPORTER = "reporter", _("Déclarant")
        SUPPORTER = "supporter", _("Soutien")
        MERGED = "merged", _("Déclarant d'un doublon fusionné")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="followers")
    email = models.EmailField(_("e-mail"))
    reason = models.CharField(_("motif"), max_length=20, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("abonné")
        verbose_name_plural = _("abonnés")
        constraints = [models.UniqueConstraint(fields=["report", "email"], name="follower_unique_email")]

    def __str__(self) -> str:
        return f"{self.report} · {self.get_reason_display()}"


class Support(models.Model):
    """A « +1 » instead of a second report. ``fingerprint`` (a keyed hash) counts each person once."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="supports")
    fingerprint = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("soutien")
        verbose_name_plural = _("soutiens")
        constraints = [
            models.UniqueConstraint(fields=["report", "fingerprint"], name="support_unique_person")
        ]


def private_storage() -> Storage:
    """Originals keep their EXIF (GPS, camera serial): never served, without URL (``config.storage``):
    ``PRIVATE_MEDIA_ROOT`` outside MEDIA_ROOT, or a private bucket apart from the public one (S3)."""
    return storages["private"]


class Photo(models.Model):
    """A photo of a report. The original stays private; every served copy is re-encoded without EXIF."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="photos")
    original = models.FileField(_("original"), upload_to="photos/%Y/%m/", storage=private_storage)
    web = models.ImageField(_("taille web"), upload_to="photos/%Y/%m/", blank=True)
    thumbnail = models.ImageField(_("vignette"), upload_to="photos/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["report", "position"]


class Ticket(models.Model):
    """The work a service does about a report. Its state only changes through ``workflow``."""

    class Priority(models.IntegerChoices):
        BASSE = 1, _("Basse")
        NORMALE = 2, _("Normale")
        HAUTE = 3, _("Haute")
        URGENTE = 4, _("Urgente")

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="ticket")
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("service")
    )
    state = models.CharField(
        _("état"), max_length=20, choices=TicketState.choices, default=TicketState.NOUVEAU
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        verbose_name=_("agent"),
    )
    priority = models.PositiveSmallIntegerField(
        _("priorité"), choices=Priority.choices, default=Priority.NORMALE
    )
    due_at = models.DateTimeField(_("échéance"), null=True, blank=True)
    routing = models.JSONField(_("décision de routage"), default=dict)
    ambiguous = models.BooleanField(_("routage ambigu"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [models.Index(fields=["service", "state", "due_at"], name="ticket_queue_idx")]

    def __str__(self) -> str:
        return str(self.report)


class TicketEvent(models.Model):
    """Append-only history of a ticket: every transition, assignment, re-routing, update and note."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Création")
        TRANSITION = "transition", _("Changement d'état")
        ASSIGNMENT = "assignment", _("Affectation")
        REROUTE = "reroute", _("Nouveau routage")
        PUBLIC_UPDATE = "public_update", _("Message public")
        INTERNAL_NOTE = "internal_note", _("Note interne")
        MERGE = "merge", _("Fusion de doublon")
        PRIORITY = "priority", _("Priorité")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_state = models.CharField(max_length=20, choices=TicketState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=TicketState.choices, blank=True)
    from_service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    public_message = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("événement")
        verbose_name_plural = _("historique")
        ordering = ["at", "pk"]


# Roles that answer tickets (``signalements.workflow.STAFF``, repeated here because the workflow
# imports this module): the organisations where a user holds one are those whose templates they use.
_TICKET_ROLES = (Membership.Role.AGENT, Membership.Role.SERVICE_MANAGER, Membership.Role.ADMINISTRATOR)


class ResponseTemplateQuerySet(models.QuerySet["ResponseTemplate"]):
    def usable_by(self, user: Any) -> ResponseTemplateQuerySet:
        """Active templates ``user`` may read and insert: shared ones and those of the organisations
        where they answer tickets (all for a superuser; none for anonymous or deactivated accounts).

        Templates are an organisation's wording (and sometimes its internal procedures): an agent of
        another organisation must not list them, nor insert one by posting its id.
        """
        if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
            return self.none()
        active = self.filter(is_active=True)
        if user.is_superuser:
            return active
        return active.filter(
            Q(organisation__isnull=True) | Q(organisation_id__in=ticket_organisation_ids(user))
        )

    def for_ticket(self, ticket: Ticket) -> ResponseTemplateQuerySet:
        """Templates that fit ``ticket``: its service's organisation (or shared) and its category
        (or its parent, or none)."""
        return self.filter(
            Q(organisation__isnull=True) | Q(organisation_id=ticket.service.organisation_id),
            Q(category__isnull=True) | Q(category_id__in=ticket.report.category.lineage_ids),
        )


def ticket_organisation_ids(user: Any) -> models.QuerySet[Any]:
    """Organisations where ``user`` (active) holds a role that answers tickets."""
    return Membership.objects.filter(user=user, user__is_active=True, role__in=_TICKET_ROLES).values(
        "organisation_id"
    )


class ResponseTemplate(models.Model):
    """A ready-made public answer of an organisation, optionally narrowed to a category and a state.

    ``organisation`` empty means shared by every organisation (the platform's own wording, managed by
    superusers only); otherwise only the staff of that organisation see and use it.
    """

    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="response_templates",
        verbose_name=_("organisation"),
        help_text=_("Vide : réponse commune à toutes les organisations."),
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("titre"), max_length=200)
    text = models.TextField(_("texte"))
    state = models.CharField(_("pour l'état"), max_length=20, choices=TicketState.choices, blank=True)
    is_active = models.BooleanField(default=True)

    objects = ResponseTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("réponse type")
        verbose_name_plural = _("réponses types")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ApiClient(models.Model):
    """An application allowed to file reports through Open311 (``POST requests``).

    Only the sha256 of its key is stored: the key itself is shown once, when it is created (admin),
    and cannot be read back. ``key_prefix`` (the key's first characters) tells keys apart in lists.
    """

    name = models.CharField(_("nom"), max_length=200, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(_("début de la clé"), max_length=8, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    jurisdictions = models.ManyToManyField(
        "geo.Territory",
        blank=True,
        related_name="+",
        verbose_name=_("territoires autorisés"),
        help_text=_("Vide : tous les territoires."),
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("client de l'API Open311")
        verbose_name_plural = _("clients de l'API Open311")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
