"""API keys of Open311 clients: made here, shown once, stored as a sha256, checked on each POST."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from signalements.models import ApiClient

KEY_PREFIX_LENGTH = 8


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_assign(client: ApiClient) -> str:
    """Give ``client`` a new random key (not saved); the key is returned to be shown once, never stored."""
    key = secrets.token_urlsafe(32)
    client.key_hash = api_key_hash(key)
    client.key_prefix = key[:KEY_PREFIX_LENGTH]
    return key


def api_client_create(
    *, name: str, jurisdictions: list | None = None, is_active: bool = True
) -> tuple[ApiClient, str]:
    """A new client and its key (the only time the key can be read)."""
    client = ApiClient(name=name, is_active=is_active)
    key = api_key_assign(client)
    client.save()
    if jurisdictions:
        client.jurisdictions.set(jurisdictions)
    return client, key


def api_client_for_key(key: str) -> ApiClient | None:
    """The active client owning ``key``, marked as used; ``None`` for an unknown or revoked key.

    The lookup is by hash (an index, no secret compared in Python), so timing tells nothing useful.
    """
    key = (key or "").strip()
    if not key or len(key) > 256:
        return None
    client = ApiClient.objects.filter(key_hash=api_key_hash(key), is_active=True).first()
    if client is not None:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client
