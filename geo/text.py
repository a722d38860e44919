"""One cleaner for the free text people type (descriptions, contributions, replies, names).

Why shared: every domain must store the same thing for the same input — NFC, no control
characters (which break CSV exports and terminals), newlines and tabs kept — and refuse the same
way, with the domain's own validation error.
"""

from __future__ import annotations

import unicodedata

from django.utils.translation import gettext as _

from geo.errors import DomainValidationFailed


def clean_text(
    value: str | None,
    *,
    max_length: int,
    field: str,
    required: bool = False,
    error: type[DomainValidationFailed] = DomainValidationFailed,
) -> str:
    """Plain text: NFC, control characters removed (newlines and tabs kept), length checked."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()
    if required and not text:
        raise error({field: [_("Ce champ est obligatoire.")]})
    if len(text) > max_length:
        raise error(
            {
                field: [
                    _("%(max)d caractères au plus (%(len)d reçus).") % {"max": max_length, "len": len(text)}
                ]
            }
        )
    return text


def person_fingerprint(*, user: object = None, email: str = "", client: str = "", scope: str = "") -> str:
    """A keyed hash that counts each person once (a « +1 ») without storing who they are.

    An account first, else the e-mail (case and spaces ignored), else the client (address and
    browser). ``scope`` keeps the domains' fingerprints apart; empty for signalements, whose stored
    fingerprints predate it.
    """
    import hashlib

    from django.conf import settings

    if getattr(user, "is_authenticated", False):
        basis = f"user:{getattr(user, 'pk', '')}"
    elif email:
        basis = f"email:{email.strip().lower()}"
    else:
        basis = f"client:{client}"
    prefix = f"{scope}|" if scope else ""
    return hashlib.sha256(f"{settings.SECRET_KEY}|{prefix}{basis}".encode()).hexdigest()
