"""ETags and the optional Redis tile cache.

An ETag is a hash of everything that decides a tile's bytes: the layer's declaration fingerprint,
its data version, the tile, the filters (and for rasters the file's identity and output options).
The same hash is the Redis key, so a new data version simply stops hitting the old keys: nothing
is ever deleted, entries expire after ``TILES_CACHE_TTL``. The cache is off unless
``TILES_CACHE_URL`` is set. Redis trouble never fails a tile: the cache is skipped for a while.

An entry is written only if absent (``SET NX``): bytes rendered under a version are at least as
new as it but may differ between two renders (a write committed in between, not yet published,
see ``tiles.versioning``); the first one stays, so every worker serves the same bytes for one tag.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from tiles import conf

logger = logging.getLogger(__name__)

# After a Redis error, tiles are computed without the cache for this long (no timeout per request).
_BACKOFF_SECONDS = 30.0
_down_until = 0.0
_clients: dict[str, redis.Redis] = {}


def etag(*parts: Any) -> str:
    """A strong ETag: identical parts give identical bytes (statements order their rows)."""
    text = json.dumps(parts, default=str, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.blake2b(text.encode(), digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or a list of tags (weak comparison, as the RFC asks for GET)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = tag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in if_none_match.split(","))


def _client() -> redis.Redis | None:
    url = conf.cache_url()
    if not url or time.monotonic() < _down_until:
        return None
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
    return client


def _failed(exc: Exception) -> None:
    global _down_until
    _down_until = time.monotonic() + _BACKOFF_SECONDS
    logger.warning("tile cache unavailable for %ss: %s", _BACKOFF_SECONDS, exc)


def _key(tag: str) -> str:
    bare = tag.strip('"')
    return f"{conf.cache_prefix()}:{bare}"


def enabled() -> bool:
    return _client() is not None


# Observers of cache lookups, called with ``hit``: config.metrics registers one (config wires the
# apps; tiles import nothing above them).
lookup_observers: list[Callable[[bool], None]] = []


def get(tag: str) -> bytes | None:
    client = _client()
    if client is None:
        return None
    try:
        body = client.get(_key(tag))
        for observe in lookup_observers:
            observe(body is not None)
        return body  # type: ignore[return-value]
    except redis.RedisError as exc:
        _failed(exc)
        return None


def present(tags: list[str]) -> list[bool] | None:
    """Whether each tag is cached, in one pipelined round trip; ``None`` when there is no cache.

    For warming (tiles/warm.py): an existence check, not a visit, so no hit/miss observer is told.
    Redis errors propagate, after the cache is marked down like any failed lookup.
    """
    client = _client()
    if client is None:
        return None
    pipe = client.pipeline(transaction=False)
    for tag in tags:
        pipe.exists(_key(tag))
    try:
        return [bool(n) for n in pipe.execute()]
    except redis.RedisError as exc:
        _failed(exc)
        raise


def put(tag: str, body: bytes) -> None:
    client = _client()
    if client is None:
        return
    try:
        client.set(_key(tag), body, ex=conf.cache_ttl(), nx=True)
    except redis.RedisError as exc:
        _failed(exc)
