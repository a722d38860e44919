"""Staff reads of personal data, one row per record shown (RGPD accountability, article 5.2).

Call :func:`personal_data_accessed` where a member of staff is *shown* a citizen's personal data
(the reporter's contact on a ticket page, an author's name and e-mail in the moderation queue,
an admin page): one row per record, written in bulk for lists. It records who, which record
(``topic``, the same vocabulary as the outbox: ``"report:12"``, ``"contribution:7"``), which
fields (their names, never their values), why (the route or purpose) and when, with the request
id that ties the row to the access logs. Nothing of the citizen is copied here.

Call it before rendering the answer: if the row cannot be written the request fails, so personal
data is never shown without its trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone

from geo.models import PersonalDataAccess

logger = logging.getLogger("concerto.personal_data")

_TOPIC_MAX: int = getattr(PersonalDataAccess._meta.get_field("topic"), "max_length", None) or 100
_REASON_MAX: int = getattr(PersonalDataAccess._meta.get_field("reason"), "max_length", None) or 200


def _current_request_id() -> str:
    """The id of the request being served (``config.observability``), or ``""`` outside one.

    Imported lazily: ``geo`` does not depend on ``config`` (which wires the apps); a process that
    runs without the request-id middleware (a shell, a command) simply records no id.
    """
    try:
        from config.observability import NO_REQUEST, current_request_id
    except ImportError:  # pragma: no cover - config is always there in this project
        return ""
    value = current_request_id()
    return "" if value == NO_REQUEST else value[:128]


def personal_data_accessed(
    *,
    user: Any,
    topic: str | Iterable[str],
    fields: Sequence[str],
    reason: str,
    request_id: str | None = None,
) -> int:
    """Record that ``user`` was shown ``fields`` of each record in ``topic``; returns the rows written.

    ``topic`` is one topic (``"report:12"``) or several (a list page shows many records: one row
    each, one INSERT). ``fields`` are field names (``["name", "email", "phone"]``). ``reason`` says
    where or why (a route name such as ``"api:ticket-detail"``). Empty topics are skipped.
    """
    topics = [topic] if isinstance(topic, str) else list(topic)
    topics = [t[:_TOPIC_MAX] for t in dict.fromkeys(topics) if t]
    if not topics:
        return 0
    authenticated = getattr(user, "is_authenticated", False)
    user_id = getattr(user, "pk", None) if authenticated else None
    username = user.get_username()[:150] if authenticated else ""
    rid = _current_request_id() if request_id is None else request_id[:128]
    now = timezone.now()
    names = [str(f) for f in fields]
    rows = [
        PersonalDataAccess(
            user_id=user_id,
            username=username,
            topic=t,
            fields=names,
            reason=reason[:_REASON_MAX],
            request_id=rid,
            at=now,
        )
        for t in topics
    ]
    PersonalDataAccess.objects.bulk_create(rows)
    logger.info(
        "personal data (%s) of %s shown to user %s (%s)",
        ", ".join(names),
        topics[0] if len(topics) == 1 else f"{len(topics)} records",
        user_id,
        reason,
    )
    return len(rows)
