"""The citizens' requests to see or erase their data (proof of the address by an e-mailed link).

The token of the link is never stored, only its sha256. The address is kept only while the link
is usable: it is blanked when the data is erased and by the retention task once the link has
expired, so that what remains is an anonymous trace that a request was made and honoured
(accountability, RGPD article 5.2) — dates and counts, no address.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SubjectRequest(models.Model):
    email = models.EmailField(_("e-mail"), blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("demandée le"), auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(_("lien valable jusqu'au"))
    exported_at = models.DateTimeField(_("données téléchargées le"), null=True, blank=True)
    erased_at = models.DateTimeField(_("données effacées le"), null=True, blank=True)
    erased_counts = models.JSONField(_("éléments effacés"), default=dict, blank=True)

    class Meta:
        verbose_name = _("demande d'accès ou d'effacement")
        verbose_name_plural = _("demandes d'accès ou d'effacement")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(_("Demande du %(date)s") % {"date": f"{self.created_at:%Y-%m-%d %H:%M}"})
