"""The e-mailed link that proves a person owns an address: the key to their export and erasure.

The token is random and only its sha256 is stored (``SubjectRequest``); the link lives
``PRIVACY_LINK_MAX_AGE_SECONDS``. At most one link per address and hour is written (the outbox's
dedupe key carries a keyed digest of the address, not the address), so the form cannot be used to
flood someone's mailbox; the form itself is rate-limited per client (``privacy_request``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from geo.models import OutboxMessage
from geo.outbox import outbox_enqueue
from privacy.models import SubjectRequest
from privacy.subject import normalise

TOPIC = "privacy"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _dedupe_key(email: str, now: datetime) -> str:
    digest = salted_hmac("privacy.links", email, algorithm="sha256").hexdigest()[:32]
    return f"privacy:link:{digest}:{int(now.timestamp() // 3600)}"


@transaction.atomic
def subject_link_send(*, email: str, now: datetime | None = None) -> bool:
    """Write a request and its e-mail to the outbox; False when a link already left this hour."""
    email = normalise(email)
    now = now or timezone.now()
    key = _dedupe_key(email, now)
    if OutboxMessage.objects.filter(dedupe_key=key).exists():
        return False
    token = secrets.token_urlsafe(32)
    max_age = int(settings.PRIVACY_LINK_MAX_AGE_SECONDS)
    SubjectRequest.objects.create(
        email=email, token_hash=hash_token(token), expires_at=now + timedelta(seconds=max_age)
    )
    context = {
        "link": f"{settings.PUBLIC_BASE_URL}{reverse('privacy:subject', args=[token])}",
        "hours": max(1, max_age // 3600),
        "request_url": f"{settings.PUBLIC_BASE_URL}{reverse('privacy:request')}",
    }
    outbox_enqueue(
        kind=OutboxMessage.Kind.EMAIL,
        destination=email,
        dedupe_key=key,
        subject=_("Vos données personnelles sur Concerto : votre lien"),
        body_text=render_to_string("privacy/email/link.txt", context),
        topic=TOPIC,
    )
    return True


def subject_request_for(token: str, *, now: datetime | None = None) -> SubjectRequest | None:
    """The live request a link opens: known, not expired, not already used for erasure."""
    if not token or len(token) > 128:
        return None
    return (
        SubjectRequest.objects.filter(token_hash=hash_token(token), expires_at__gt=now or timezone.now())
        .exclude(email="")
        .first()
    )
