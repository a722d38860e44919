"""Urban projects, their concertation calendar, planning layers, contributions and answers.

Data and invariants only. Writes go through ``urbanisme.services``; calendar rules (which phase is
current, what it allows, when notices are due) live in ``urbanisme.phases`` as pure functions.
Personal data (a contributor's name and e-mail, a follower's e-mail) is kept in its own tables,
never on ``Contribution`` or ``Reply``, so that public queries cannot select it by accident: the
public sees only the pseudonym the person chose.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeBoundary, RangeOperators
from django.core.files.storage import Storage, storages
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _

from geo.models import Organisation, Territory
from geo.srid import STORAGE_SRID

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 5000
PSEUDONYM_MAX_LENGTH = 60


def private_storage() -> Storage:
    """Uploaded originals (photos with EXIF, GeoTIFFs before conversion) are never served as is."""
    return storages["private"]


class ProjectStatus(models.TextChoices):
    DRAFT = "brouillon", _("Brouillon")
    PUBLISHED = "publie", _("Publié")
    ARCHIVED = "archive", _("Archivé")


class Moderation(models.TextChoices):
    POST = "a_posteriori", _("Publication immédiate, modération a posteriori")
    PRE = "a_priori", _("Modération a priori")


class Project(models.Model):
    """An urban project under public concertation, with the perimeter it applies to."""

    territory = models.ForeignKey(
        Territory, on_delete=models.PROTECT, related_name="projects", verbose_name=_("territoire")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="projects",
        verbose_name=_("organisation responsable"),
    )
    title = models.CharField(_("titre"), max_length=TITLE_MAX_LENGTH)
    slug = models.SlugField(_("identifiant public"), max_length=100, unique=True)
    summary = models.CharField(_("résumé"), max_length=500, blank=True)
    description = models.TextField(_("description"), max_length=20000, blank=True)
    perimeter = models.MultiPolygonField(_("périmètre"), srid=STORAGE_SRID)
    contact_name = models.CharField(_("contact (service ou équipe)"), max_length=200, blank=True)
    contact_email = models.EmailField(_("e-mail de contact"), blank=True)
    cover_image = models.ImageField(_("image de couverture"), upload_to="projets/couvertures/", blank=True)
    status = models.CharField(
        _("statut"), max_length=12, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT
    )
    moderation = models.CharField(
        _("modération"), max_length=12, choices=Moderation.choices, default=Moderation.POST
    )
    contribution_margin_m = models.PositiveIntegerField(
        _("marge autour du périmètre (m)"),
        default=200,
        help_text=_("Une contribution peut être placée jusqu'à cette distance du périmètre."),
    )
    source = models.CharField(_("source des données"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    bilan_published_at = models.DateTimeField(_("bilan publié le"), null=True, blank=True)
    bilan_conclusion = models.TextField(
        _("conclusions de l'équipe"),
        blank=True,
        help_text=_("Texte de l'équipe publié avec le bilan ; les chiffres, eux, sont calculés."),
    )

    class Meta:
        verbose_name = _("projet")
        verbose_name_plural = _("projets")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Theme(models.Model):
    """A theme of a project (mobilité, espaces verts...), chosen by contributors or by moderators."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="themes")
    name = models.CharField(_("nom"), max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("thème")
        verbose_name_plural = _("thèmes")
        ordering = ["project", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="theme_unique_name")]

    def __str__(self) -> str:
        return self.name


class DocumentKind(models.TextChoices):
    PDF = "pdf", _("PDF")
    IMAGE = "image", _("Image")


class Document(models.Model):
    """A document of the project file (dossier de concertation), checked for type and size."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("titre"), max_length=TITLE_MAX_LENGTH)
    kind = models.CharField(_("type"), max_length=10, choices=DocumentKind.choices)
    file = models.FileField(_("fichier"), upload_to="projets/documents/%Y/")
    size = models.PositiveBigIntegerField(_("taille (octets)"))
    sha256 = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["project", "position", "id"]

    def __str__(self) -> str:
        return self.title


class PhaseKind(models.TextChoices):
    INFORMATION = "information", _("Information")
    CONCERTATION = "concertation_prealable", _("Concertation préalable")
    ENQUETE = "enquete_publique", _("Enquête publique")
    BILAN = "bilan", _("Bilan")
    DECISION = "decision", _("Décision")
    TRAVAUX = "travaux", _("Travaux")
    CLOS = "cloture", _("Clôturé")


class DateRange(Func):
    """``daterange(start, end, '[]')``: both days included, as the calendar shows them."""

    function = "DATERANGE"
    output_field = DateRangeField()


class Phase(models.Model):
    """One step of the concertation calendar. Dates are whole days in Europe/Paris, both included.

    The current phase is derived from these dates (``urbanisme.phases``), never stored.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="phases")
    kind = models.CharField(_("type"), max_length=30, choices=PhaseKind.choices)
    title = models.CharField(_("titre"), max_length=TITLE_MAX_LENGTH, blank=True)
    description = models.TextField(_("description"), max_length=TEXT_MAX_LENGTH, blank=True)
    start_date = models.DateField(_("début"))
    end_date = models.DateField(_("fin (incluse)"))
    allows_contributions = models.BooleanField(_("contributions ouvertes"), default=False)
    allows_supports = models.BooleanField(_("soutiens ouverts"), default=False)

    class Meta:
        verbose_name = _("phase")
        verbose_name_plural = _("phases")
        ordering = ["project", "start_date"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="phase_dates_in_order"),
            # The last guard: services check the whole timeline first and explain the conflict.
            ExclusionConstraint(
                name="phase_no_overlap",
                deferrable=models.Deferrable.DEFERRED,
                expressions=[
                    (DateRange("start_date", "end_date", RangeBoundary(True, True)), RangeOperators.OVERLAPS),
                    ("project", RangeOperators.EQUAL),
                ],
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()

    @property
    def label(self) -> str:
        return self.title or str(self.get_kind_display())


class NoticeKind(models.TextChoices):
    OPENED = "opened", _("La concertation est ouverte")
    CLOSING_SOON = "closing_soon", _("La concertation se termine bientôt")
    CLOSED = "closed", _("La concertation est close")
    BILAN = "bilan", _("Le bilan est publié")


class PhaseNotice(models.Model):
    """A calendar notice already sent: beat runs every few minutes and must tell followers once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="notices")
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("annonce envoyée")
        verbose_name_plural = _("annonces envoyées")
        constraints = [
            models.UniqueConstraint(
                fields=["project", "phase", "kind"], name="notice_once", nulls_distinct=False
            )
        ]


class ProjectFollower(models.Model):
    """Someone who asked to hear about the project. Personal data: never public."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="followers")
    email = models.EmailField(_("e-mail"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    confirm_token_hash = models.CharField(max_length=64, unique=True)
    # Double opt-in: notices go only to addresses whose owner clicked the confirmation link.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("abonné")
        verbose_name_plural = _("abonnés")
        constraints = [
            models.UniqueConstraint(fields=["project", "email"], name="project_follower_unique_email")
        ]


class LayerKind(models.TextChoices):
    VECTOR = "vector", _("Vecteur (import)")
    RASTER = "raster", _("Image géoréférencée")
    ANNOTATION = "annotation", _("Annotations de l'équipe")


class RasterStatus(models.TextChoices):
    NONE = "", _("—")
    PENDING = "pending", _("Conversion en cours")
    READY = "ready", _("Prête")
    FAILED = "failed", _("Échec de la conversion")


class Layer(models.Model):
    """A planning layer of a project: imported vectors, a georeferenced image, or the team's drawings.

    ``style`` holds what Leaflet needs (colour, fill, width, opacity, label field) after
    validation by ``urbanisme.layers``; ``legend`` is a list of ``{"label", "color"}`` entries.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="layers")
    kind = models.CharField(_("type"), max_length=12, choices=LayerKind.choices)
    name = models.CharField(_("nom"), max_length=TITLE_MAX_LENGTH)
    slug = models.SlugField(max_length=100)
    description = models.TextField(_("description"), max_length=TEXT_MAX_LENGTH, blank=True)
    style = models.JSONField(_("style"), default=dict, blank=True)
    legend = models.JSONField(_("légende"), default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_published = models.BooleanField(_("publiée"), default=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    crs = models.CharField(_("système de coordonnées d'origine"), max_length=100, blank=True)
    # Raster layers only.
    raster_original = models.FileField(upload_to="rasters/originaux/", storage=private_storage, blank=True)
    raster_cog = models.FileField(upload_to="rasters/cog/", storage=private_storage, blank=True)
    raster_status = models.CharField(max_length=10, choices=RasterStatus.choices, default="", blank=True)
    raster_error = models.TextField(blank=True)
    footprint = models.PolygonField(_("emprise"), srid=STORAGE_SRID, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("couche")
        verbose_name_plural = _("couches")
        ordering = ["project", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="layer_unique_slug")]

    def __str__(self) -> str:
        return self.name


class LayerFeature(models.Model):
    """One feature of a vector or annotation layer; its source attributes are kept as they were."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="features")
    geom = models.GeometryField(srid=STORAGE_SRID)
    title = models.CharField(_("titre"), max_length=TITLE_MAX_LENGTH, blank=True)
    text = models.TextField(_("texte"), max_length=TEXT_MAX_LENGTH, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    source_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("objet de couche")
        verbose_name_plural = _("objets de couche")


class ContributionKind(models.TextChoices):
    IDEE = "idee", _("Idée")
    QUESTION = "question", _("Question")
    INQUIETUDE = "inquietude", _("Inquiétude")
    SOUTIEN = "soutien", _("Soutien")
    AUTRE = "autre", _("Autre")


class ContributionChannel(models.TextChoices):
    WEB = "web", _("En ligne")
    REUNION = "reunion", _("Réunion publique")
    REGISTRE = "registre", _("Registre papier")
    COURRIER = "courrier", _("Courrier")
    ATELIER = "atelier", _("Atelier ou balade urbaine")
    AUTRE = "autre", _("Autre")


class Visibility(models.TextChoices):
    PENDING = "en_attente", _("En attente de modération")
    PUBLISHED = "publiee", _("Publiée")
    HIDDEN = "masquee", _("Masquée par la modération")


class Contribution(models.Model):
    """A citizen's contribution pinned where it applies (point, line or polygon).

    ``pseudonym`` is all the public learns of the author; name and e-mail live in
    ``ContributionAuthor``. ``channel`` and ``channel_label`` record contributions an agent entered
    on behalf of participants (« réunion publique du 12 mars »), with ``entered_by`` the agent.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="contributions")
    # RESTRICT, not PROTECT: a phase holding contributions cannot be deleted alone, but deleting the
    # whole project takes both.
    phase = models.ForeignKey(Phase, on_delete=models.RESTRICT, related_name="contributions")
    kind = models.CharField(_("nature"), max_length=12, choices=ContributionKind.choices)
    theme = models.ForeignKey(
        Theme, null=True, blank=True, on_delete=models.SET_NULL, related_name="contributions"
    )
    title = models.CharField(_("titre"), max_length=TITLE_MAX_LENGTH)
    text = models.TextField(_("texte"), max_length=TEXT_MAX_LENGTH)
    geom = models.GeometryField(_("emplacement"), srid=STORAGE_SRID)
    pseudonym = models.CharField(_("pseudonyme"), max_length=PSEUDONYM_MAX_LENGTH, blank=True)
    channel = models.CharField(
        _("canal"), max_length=12, choices=ContributionChannel.choices, default=ContributionChannel.WEB
    )
    channel_label = models.CharField(_("précision sur le canal"), max_length=200, blank=True)
    visibility = models.CharField(_("visibilité"), max_length=12, choices=Visibility.choices)
    hidden_reason = models.CharField(_("motif de masquage"), max_length=300, blank=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    supports_count = models.PositiveIntegerField(default=0)
    photo_web = models.ImageField(upload_to="contributions/%Y/%m/", blank=True)
    photo_original = models.FileField(upload_to="contributions/%Y/%m/", storage=private_storage, blank=True)
    created_at = models.DateTimeField(_("déposée le"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contribution")
        verbose_name_plural = _("contributions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "visibility", "-created_at"], name="contribution_public_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class ContributionAuthor(models.Model):
    """Who wrote a contribution or a reply, for the team only (to answer them); never public."""

    contribution = models.OneToOneField(
        Contribution, null=True, blank=True, on_delete=models.CASCADE, related_name="author"
    )
    reply = models.OneToOneField(
        "Reply", null=True, blank=True, on_delete=models.CASCADE, related_name="author"
    )
    name = models.CharField(_("nom"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    notify = models.BooleanField(_("prévenir des réponses"), default=True)

    class Meta:
        verbose_name = _("auteur (données personnelles)")
        verbose_name_plural = _("auteurs (données personnelles)")
        constraints = [
            models.CheckConstraint(
                condition=Q(contribution__isnull=False, reply__isnull=True)
                | Q(contribution__isnull=True, reply__isnull=False),
                name="author_of_one_thing",
            )
        ]


class Reply(models.Model):
    """A reply in a contribution's thread; ``is_official`` marks the project team's answer."""

    contribution = models.ForeignKey(Contribution, on_delete=models.CASCADE, related_name="replies")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    text = models.TextField(_("texte"), max_length=TEXT_MAX_LENGTH)
    pseudonym = models.CharField(_("pseudonyme"), max_length=PSEUDONYM_MAX_LENGTH, blank=True)
    is_official = models.BooleanField(_("réponse officielle"), default=False)
    visibility = models.CharField(_("visibilité"), max_length=12, choices=Visibility.choices)
    hidden_reason = models.CharField(_("motif de masquage"), max_length=300, blank=True)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("réponse")
        verbose_name_plural = _("réponses")
        ordering = ["contribution", "created_at"]


class ContributionSupport(models.Model):
    """A « +1 ». ``fingerprint`` (a keyed hash of the account or e-mail) counts each person once."""

    contribution = models.ForeignKey(Contribution, on_delete=models.CASCADE, related_name="supports")
    fingerprint = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("soutien")
        verbose_name_plural = _("soutiens")
        constraints = [
            models.UniqueConstraint(
                fields=["contribution", "fingerprint"], name="contribution_support_unique_person"
            )
        ]
