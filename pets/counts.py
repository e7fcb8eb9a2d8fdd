"""How many pets match a list filter, in O(1): counts kept in Redis, adjusted by every write.

`X-Total-Count` and the page's "Pets (N)" must not scan the collection (on the embedded database
even `count_documents` is O(N)). A count is computed once, on the first request for its filter,
then every create, update and delete adjusts the counts it changes in the same Redis round trip
that queues the task (only counts already known: an unknown one is computed when asked for).
The hash expires after `COUNTS_TTL_SECONDS`, so a count that drifted (Redis was down during a
write) heals by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import redis

from infra.redis_scripts import redis_script
from pets.redis_client import get_redis

log = logging.getLogger(__name__)

COUNTS_KEY = "pets:counts"
COUNTS_TTL_SECONDS = 600

# infra/lua/adjust_counts.lua: adjust a count only if it is known (an unknown one is computed when
# first asked for); the script that queues a task does the same (infra/lua/lib/adjust_known.lua).
ADJUST_COUNTS = redis_script("adjust_counts")


def signature(species_key: str | None, vaccinated: bool | None) -> str:
    return f"{species_key or ''}|{'' if vaccinated is None else str(vaccinated).lower()}"


def signatures_of(species_key: str, vaccinated: bool) -> list[str]:
    """Every list filter a pet with these values is counted in."""
    return [signature(s, v) for s in (None, species_key) for v in (None, vaccinated)]


def count(species_key: str | None, vaccinated: bool | None, compute: Callable[[], int]) -> int:
    """The number of pets matching the filter; `compute` (a scan) runs only when it is not known."""
    field = signature(species_key, vaccinated)
    try:
        known = get_redis().hget(COUNTS_KEY, field)
    except redis.RedisError as exc:
        log.warning("Counts unavailable, counting in the database: %s", exc)
        return compute()
    if known is not None:
        return max(int(known), 0)
    total = compute()
    try:
        with get_redis().pipeline(transaction=True) as pipe:
            pipe.hsetnx(COUNTS_KEY, field, total)
            pipe.expire(COUNTS_KEY, COUNTS_TTL_SECONDS, nx=True)
            pipe.execute()
    except redis.RedisError:
        pass
    return total


CountChanges = Sequence[tuple[int, list[str]]]  # (delta, the filter signatures it applies to)


def adjust(pipe: redis.client.Pipeline, changes: CountChanges) -> None:
    """Queue these count adjustments on `pipe` (the write's own round trip to Redis)."""
    if changes:
        ADJUST_COUNTS.queue(pipe, [COUNTS_KEY], adjustments(changes))


def adjustments(changes: CountChanges) -> list[str | int]:
    """The changes as the scripts take them: signature, delta, signature, delta..."""
    return [item for delta, signatures in changes for signature in signatures for item in (signature, delta)]
