"""Who is responsible for what, where: the data the router reads.

Models hold data and invariants only; writes go through ``geo.services`` and reads through
``geo.selectors`` / ``geo.routing``. Every geometry column is in ``geo.srid.STORAGE_SRID`` with a
GiST index (GeoDjango's default for geometry fields).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from geo.srid import STORAGE_SRID

# Network tolerances are capped so that the router can pre-filter candidates with one constant
# bounding box (an index scan) before the exact geodesic test.
MAX_TOLERANCE_M = 200.0


class Organisation(models.Model):
    class Kind(models.TextChoices):
        COMMUNE = "commune", _("Commune")
        EPCI = "epci", _("EPCI / intercommunalité")
        METROPOLE = "metropole", _("Métropole")
        DEPARTEMENT = "departement", _("Département")
        REGION = "region", _("Région")
        DELEGATAIRE = "delegataire", _("Délégataire / prestataire")

    name = models.CharField(_("nom"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A department of an organisation that receives tickets."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="services", verbose_name=_("organisation")
    )
    name = models.CharField(_("nom"), max_length=200)
    emails = models.JSONField(
        _("adresses e-mail de contact"), default=list, blank=True, help_text=_("Liste d'adresses e-mail.")
    )
    webhook_url = models.URLField(_("URL de webhook"), blank=True)
    webhook_secret = models.CharField(
        _("secret du webhook"),
        max_length=128,
        blank=True,
        help_text=_("Clé de la signature HMAC-SHA256 des envois (en-tête X-Concerto-Signature)."),
    )
    is_active = models.BooleanField(_("actif"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["organisation__name", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="service_unique_name")]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """A two-level tree ("Voirie › Nid de poule"); reports are filed under a leaf.

    A competence given for a parent covers all of its children.
    """

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("catégorie parente"),
    )
    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=_("Identifiant stable."))
    name = models.CharField(_("nom"), max_length=200)
    icon = models.CharField(_("icône"), max_length=64, blank=True)
    default_delay = models.DurationField(_("délai de traitement attendu"), default=timedelta(days=7))
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    duplicate_radius_m = models.FloatField(
        _("rayon de recherche des doublons (m)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1.0), MaxValueValidator(500.0)],
        help_text=_("Vide : la valeur par défaut du site (30 m)."),
    )

    class Meta:
        verbose_name = _("catégorie")
        verbose_name_plural = _("catégories")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="category_not_own_parent"),
        ]

    def clean(self) -> None:
        # Two levels only: a parent cannot itself have a parent.
        if self.parent is not None and self.parent.parent_id:
            raise ValidationError({"parent": _("Les catégories n'ont que deux niveaux.")})

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent is not None else self.name

    @property
    def lineage_ids(self) -> list[int]:
        """This category and its parent: the competences that cover it."""
        return [self.pk, self.parent_id] if self.parent_id else [self.pk]


class Territory(models.Model):
    """The area an instance serves; Open311's ``jurisdiction_id`` is its slug."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    slug = models.SlugField(_("identifiant"), max_length=100, unique=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="territories", verbose_name=_("organisation")
    )
    geom = models.MultiPolygonField(_("contour"), srid=STORAGE_SRID)

    class Meta:
        verbose_name = _("territoire")
        verbose_name_plural = _("territoires")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DefaultService(models.Model):
    """The last rule of the router: who takes a category anywhere in the territory.

    ``category`` empty means every category without a more specific default.
    """

    territory = models.ForeignKey(
        Territory, on_delete=models.CASCADE, related_name="defaults", verbose_name=_("territoire")
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("catégorie")
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, verbose_name=_("service"))

    class Meta:
        verbose_name = _("service par défaut")
        verbose_name_plural = _("services par défaut")
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "category"], name="default_unique_category", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.territory} · {self.category or _('toutes catégories')} → {self.service}"


class ValidityQuerySet(models.QuerySet):
    def valid_on(self, day: date) -> ValidityQuerySet:
        return self.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day)).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )


class Zone(models.Model):
    """An area where a service is competent, for every category or a chosen set. Zones may overlap."""

    name = models.CharField(_("nom"), max_length=200)
    geom = models.MultiPolygonField(_("périmètre"), srid=STORAGE_SRID)
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="zones", verbose_name=_("service")
    )
    all_categories = models.BooleanField(_("toutes catégories"), default=False)
    categories = models.ManyToManyField(
        Category, blank=True, related_name="zones", verbose_name=_("catégories")
    )
    priority = models.IntegerField(_("priorité"), default=0, help_text=_("La plus haute l'emporte."))
    valid_from = models.DateField(_("valide à partir du"), null=True, blank=True)
    valid_until = models.DateField(_("valide jusqu'au"), null=True, blank=True)
    source = models.CharField(
        _("source"), max_length=200, blank=True, help_text=_("Fichier ou couche d'origine.")
    )
    source_id = models.CharField(_("identifiant d'origine"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributs"), default=dict, blank=True)

    objects = ValidityQuerySet.as_manager()

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lte=models.F("valid_until")),
                name="zone_valid_dates_in_order",
            ),
            models.UniqueConstraint(
                fields=["source", "source_id"],
                condition=~Q(source="") & ~Q(source_id=""),
                name="zone_unique_source_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NetworkLayer(models.Model):
    """A set of line features (roads...) that decides routing for the categories tied to it."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    categories = models.ManyToManyField(
        Category, related_name="network_layers", verbose_name=_("catégories concernées")
    )
    default_tolerance_m = models.FloatField(
        _("tolérance par défaut (m)"),
        default=10.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_TOLERANCE_M)],
    )

    class Meta:
        verbose_name = _("couche réseau")
        verbose_name_plural = _("couches réseau")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_tolerance_m__gte=0, default_tolerance_m__lte=MAX_TOLERANCE_M),
                name="layer_tolerance_in_range",
            )
        ]

    def __str__(self) -> str:
        return self.name


class NetworkFeature(models.Model):
    layer = models.ForeignKey(
        NetworkLayer, on_delete=models.CASCADE, related_name="features", verbose_name=_("couche")
    )
    name = models.CharField(_("nom"), max_length=200, blank=True)
    geom = models.MultiLineStringField(_("tracé"), srid=STORAGE_SRID)
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        related_name="network_features",
        verbose_name=_("service gestionnaire"),
    )
    tolerance_m = models.FloatField(
        _("tolérance (m)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_TOLERANCE_M)],
        help_text=_("Vide : la tolérance par défaut de la couche."),
    )
    source = models.CharField(_("source"), max_length=200, blank=True)
    source_id = models.CharField(_("identifiant d'origine"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributs"), default=dict, blank=True)

    class Meta:
        verbose_name = _("tronçon")
        verbose_name_plural = _("tronçons")
        ordering = ["layer", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tolerance_m__isnull=True)
                | Q(tolerance_m__gte=0, tolerance_m__lte=MAX_TOLERANCE_M),
                name="feature_tolerance_in_range",
            ),
            models.UniqueConstraint(
                fields=["layer", "source", "source_id"],
                condition=~Q(source="") & ~Q(source_id=""),
                name="feature_unique_source_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.layer} #{self.pk}"


class Membership(models.Model):
    """A user's role in an organisation, optionally restricted to one of its services.

    Every permission check of the later apps reads these rows; citizens need none.
    """

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        SERVICE_MANAGER = "service_manager", _("Responsable de service")
        PLANNER = "planner", _("Urbaniste / chargé de concertation")
        MODERATOR = "moderator", _("Modérateur")
        ADMINISTRATOR = "administrator", _("Administrateur")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("utilisateur"),
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organisation")
    )
    service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("service"),
        help_text=_("Vide : le rôle vaut pour toute l'organisation."),
    )
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("rôle")
        verbose_name_plural = _("rôles")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "service", "role"],
                name="membership_unique",
                nulls_distinct=False,
            )
        ]

    def clean(self) -> None:
        if self.role == self.Role.AGENT and not self.service_id:
            raise ValidationError({"service": _("Un agent appartient à un service.")})
        if (
            self.service is not None
            and self.organisation_id
            and self.service.organisation_id != self.organisation_id
        ):
            raise ValidationError({"service": _("Ce service n'appartient pas à cette organisation.")})

    def __str__(self) -> str:
        where = self.service or self.organisation
        return f"{self.user} · {self.get_role_display()} · {where}"


class OutboxMessage(models.Model):
    """A notification written in the same transaction as its cause, delivered later by Celery.

    It lives in ``geo`` because every domain sends through it (reports, projects) and the domains
    never import each other. ``topic`` says what the message is about (``"report:123"``,
    ``"project:42"``) without a foreign key into a domain: the admin filters on it and erasing a
    person's data finds their messages by it.

    ``dedupe_key`` makes enqueuing idempotent. ``sending`` is a claim with a lease
    (``next_attempt_at``): a worker that dies while sending leaves it, and the row is sent again once
    the lease runs out, that attempt counted. The receiver gets ``id`` in a header to drop that replay.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WEBHOOK = "webhook", _("Webhook")

    class State(models.TextChoices):
        PENDING = "pending", _("En attente")
        SENDING = "sending", _("En cours d'envoi")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Abandonné")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    dedupe_key = models.CharField(max_length=200, unique=True)
    destination = models.CharField(max_length=500)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    topic = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="outbox_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.destination} ({self.state})"


class PersonalDataAccess(models.Model):
    """One reading of a citizen's personal data by a member of staff (RGPD accountability).

    Written by ``geo.access_log.personal_data_accessed`` wherever staff are shown a contact or an
    author (ticket page, moderation queue, admin). It lives in ``geo`` beside the outbox because
    every domain writes it and the domains never import each other. The row itself holds no
    personal data of the citizen: ``topic`` names the record (``"report:12"``,
    ``"contribution:7"``) and ``fields`` lists field names, never their values.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("utilisateur"),
    )
    # The account's name when it read the data: the row keeps its meaning if the account is deleted.
    username = models.CharField(_("identifiant"), max_length=150, blank=True)
    topic = models.CharField(_("donnée consultée"), max_length=100, db_index=True)
    fields = models.JSONField(_("champs"), default=list, blank=True)
    reason = models.CharField(_("motif ou page"), max_length=200, blank=True)
    request_id = models.CharField(_("identifiant de requête"), max_length=128, blank=True)
    at = models.DateTimeField(_("consulté le"), db_index=True)

    class Meta:
        verbose_name = _("accès à des données personnelles")
        verbose_name_plural = _("accès aux données personnelles")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "at"], name="pdaccess_user_at_idx")]

    def __str__(self) -> str:
        return f"{self.username or '?'} · {self.topic} · {self.at:%Y-%m-%d %H:%M}"
