"""Idempotent creates: `POST /api/pets/` with an `Idempotency-Key` header answers a retry with the
first answer instead of making a second pet (as Stripe's API and the IETF httpapi draft do).

A key is the client's, scoped to the user who sends it, and remembered in Redis for
IDEMPOTENCY_KEY_TTL_SECONDS (24 h by default) as one entry, `pets:idempotency:<user>:<sha256>`:
- claimed first, atomically (`SET ... NX GET`, one round trip): the request that claims it makes
  the pet; the entry holds a fingerprint of the body and "in progress", for at most
  IDEMPOTENCY_LOCK_SECONDS;
- then replaced by the answer (status and body). The same key with the same body gets that answer
  again with `Idempotent-Replayed: true`; with another body, 422; while the first is still in
  progress, 409 with `Retry-After`.
A request whose body is invalid claims nothing (400, as without a key): the client can fix it and
send it with the same key. A create that fails (the database is down) releases its claim. With
Redis down a key cannot be honoured, so the create is refused (503) rather than risk a second
pet; without a key nothing changes: the create costs what it did, one database write.

What it does not cover: an API process killed between storing the pet and recording its answer
leaves the key "in progress" until its lock lapses; a retry after that makes a second pet.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
import redis
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from pets.redis_client import get_redis

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"  # the header as WSGI names it (request.META)
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PREFIX = "pets:idempotency:"
MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
IN_PROGRESS = "in_progress"
RETRY_AFTER_SECONDS = 1


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with a different request body: use a new key for a new request."
    default_code = "idempotency_key_reused"


class KeyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still in progress: retry after a second."
    default_code = "idempotency_key_in_progress"
    wait = RETRY_AFTER_SECONDS  # DRF's exception handler sends it as Retry-After


class KeysUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Idempotency keys cannot be checked while Redis is unavailable: retry shortly."
    default_code = "idempotency_unavailable"


def key_from(meta: Mapping[str, str]) -> str | None:
    """The request's key (None without the header), or a 400 naming what is wrong with it.
    `meta` is request.META: request.headers would build a dict of every header on each create."""
    raw = meta.get(META_KEY)
    if raw is None:
        return None
    if not _PRINTABLE.fullmatch(raw) or raw.strip() != raw:
        raise ValidationError(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, without surrounding spaces."]}
        )
    return raw


@dataclass(frozen=True)
class Answer:
    """A create's answer as sent, and as a replay sends it again."""

    status: int
    body: bytes  # JSON
    replayed: bool = False


def once(user_id: object, key: str, payload: object, create: Callable[[], Answer]) -> Answer:
    """`create()`'s answer the first time this user sends this key with this payload; the first
    answer again on a retry (see the module's docstring for the other cases)."""
    entry_key = KEY_PREFIX + f"{user_id}:" + hashlib.sha256(key.encode()).hexdigest()
    fingerprint = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    claim = orjson.dumps({"state": IN_PROGRESS, "fingerprint": fingerprint})
    client = get_redis()
    try:
        earlier = client.set(entry_key, claim, nx=True, get=True, ex=settings.IDEMPOTENCY_LOCK_SECONDS)
    except redis.RedisError as exc:
        raise KeysUnavailable from exc
    if earlier is not None:
        return _earlier_answer(orjson.loads(earlier), fingerprint)  # type: ignore[arg-type]  # bytes from SET GET
    try:
        answer = create()
    except BaseException:
        _release(client, entry_key)
        raise
    kept = {"state": "done", "fingerprint": fingerprint, "status": answer.status, "body": answer.body.decode()}
    try:
        client.set(entry_key, orjson.dumps(kept), ex=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    except redis.RedisError:  # the pet is made: answer; a retry finds the key "in progress" until its lock lapses
        pass
    return answer


def _earlier_answer(entry: dict, fingerprint: str) -> Answer:
    if entry.get("fingerprint") != fingerprint:
        raise KeyReused
    if entry.get("state") == IN_PROGRESS:
        raise KeyInProgress
    return Answer(int(entry["status"]), entry["body"].encode(), replayed=True)


def _release(client: redis.Redis, entry_key: str) -> None:
    try:
        client.delete(entry_key)
    except redis.RedisError:
        pass  # the claim lapses with its lock
