"""A honeypot field for public forms: ``site_web``, hidden from people, filled by naive robots.

People never see the field (it sits in an element with the ``hidden`` attribute, out of the
keyboard order, without autocomplete), so a value in it means a program filled every input it
found. Use :func:`honeypot_tripped` on the submitted data before doing anything with it.

What a tripped honeypot answers: **400 with a neutral message** (« Votre envoi n'a pas pu être
accepté… »), not a fake success. A fake 201 would need a fake reference and a fake tracking link,
and would lie to the rare person whose browser or password manager filled the field on its own:
told plainly, they can send again; a robot learns nothing it did not know from any other 400. The
refusal is logged (``concerto.honeypot``, without the data) so that operators see the rate.

In the REST API (filing a report, a contribution) the field is simply not part of any serializer;
:func:`refuse_if_tripped` raises :class:`HoneypotTripped`, which ``config/api_errors.py`` renders in
the API's error shape (``{"code": "envoi_refuse", "message": "…"}``). docs/PRIVACY.md tells the
pages how to add the field to an HTML form.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status

logger = logging.getLogger("concerto.honeypot")

FIELD = "site_web"
CODE = "envoi_refuse"


MESSAGE = _(
    "Votre envoi n'a pas pu être accepté. Si vous êtes une personne, videz le champ "
    "« site web » s'il est rempli, puis envoyez à nouveau."
)


def message() -> str:
    """The neutral refusal, in the active language (for pages: show it as the form's error)."""
    return str(MESSAGE)


def honeypot_tripped(data: Mapping[str, Any] | Any) -> bool:
    """True when the hidden ``site_web`` field came back with something in it.

    ``data`` is ``request.POST``, DRF's ``request.data`` (a QueryDict or a parsed JSON object) or
    any mapping; anything else (a JSON list, ``None``) cannot hold the field and is not tripped.
    """
    if not hasattr(data, "get"):
        return False
    try:
        value = data.get(FIELD)
    except Exception:  # an exotic mapping: not ours to judge
        return False
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple):
        return any(str(v).strip() for v in value)
    return bool(value)


class HoneypotTripped(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = CODE
    default_detail = MESSAGE


def refuse_if_tripped(data: Any, *, where: str = "") -> None:
    """For DRF views: raise :class:`HoneypotTripped` (400, neutral message) when the trap is filled."""
    if honeypot_tripped(data):
        logger.info("honeypot field filled, submission refused (%s)", where or "?")
        raise HoneypotTripped()
