"""The data operations shared by retention (by age) and erasure (by address).

They work on querysets of the domains' personal-data tables directly: ``privacy`` stands above
``signalements`` and ``urbanisme`` and writes only what is personal. Files are deleted after the
transaction commits, so that a rollback never leaves a row pointing at a deleted file.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from functools import partial

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from geo.models import OutboxMessage
from urbanisme.models import ContributionAuthor

logger = logging.getLogger("concerto.privacy")

# Erased authors keep a distinct, random, undeliverable address (RFC 2606 reserves ``.invalid``):
# the published bilan counts distinct contributors by address, and must not change when people
# exercise their rights or when retention runs. Nothing links it back to the person.
ANONYMOUS_DOMAIN = "anonyme.invalid"


def anonymous_address() -> str:
    return f"anonyme-{secrets.token_hex(8)}@{ANONYMOUS_DOMAIN}"


def authors_not_anonymous() -> Q:
    """Author rows that still hold a name or a real address."""
    return ~Q(name="") | (~Q(email="") & ~Q(email__iendswith=f"@{ANONYMOUS_DOMAIN}"))


def anonymise_authors(rows: Iterable[ContributionAuthor], *, aliases: dict[str, str] | None = None) -> int:
    """Blank the name, replace the address by an alias (one per address), stop notifications.

    ``aliases`` maps a lower-cased address to its alias; pass the same dict for every batch of one
    project so that one person stays one (anonymous) contributor in its figures.
    """
    aliases = {} if aliases is None else aliases
    changed: list[ContributionAuthor] = []
    for author in rows:
        address = (author.email or "").strip().lower()
        if address and not address.endswith(f"@{ANONYMOUS_DOMAIN}"):
            author.email = aliases.setdefault(address, anonymous_address())
        author.name = ""
        author.notify = False
        changed.append(author)
    ContributionAuthor.objects.bulk_update(changed, ["name", "email", "notify"])
    return len(changed)


def purge_outbox(ids: Iterable[int], *, marker: str) -> int:
    """Blank what a sent or abandoned notification says and to whom; keep kind, state, topic, dates.

    The dedupe key is replaced too: keys of citizens' messages end with their address. ``marker``
    (``"purged"`` by retention, ``"erased"`` by erasure) prefixes the new key, with the row's id.
    One UPDATE for the whole batch.
    """
    return OutboxMessage.objects.filter(pk__in=list(ids)).update(
        destination="",
        body_text="",
        body_html="",
        payload={},
        last_error="",
        dedupe_key=Concat(Value(f"{marker}:"), Cast("pk", output_field=CharField())),
    )


def delete_files_on_commit(storage: Storage, names: Iterable[str]) -> None:
    """Delete stored files once the current transaction commits (immediately outside one)."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(partial(_delete_files, storage, names), robust=True)


def _delete_files(storage: Storage, names: list[str]) -> None:
    """Delete each file or object (filesystem or S3: ``Storage.delete``); one failure stops none.

    A file that could not be deleted is no longer referenced by any row, so the error is logged
    with its (random) name for an operator to remove it by hand: a locked file, an S3 endpoint
    away or refusing (botocore's errors are not ``OSError``).
    """
    for name in names:
        try:
            storage.delete(name)
        except Exception as exc:
            logger.error("could not delete a private file %s (%s): %s", name, type(exc).__name__, exc)
