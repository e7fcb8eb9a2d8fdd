"""Where the tasks are right now: one reading of the queue's keys, for the API and the operators."""

from __future__ import annotations

from contracts.queue import DEAD_LETTER_KEY, DELAYED_KEY, HEARTBEAT_KEY_PREFIX, PROCESSING_KEY_PREFIX, TASKS_KEY


def _names_after(client, prefix: str) -> list[str]:
    return sorted(key.decode()[len(prefix) :] for key in client.scan_iter(match=f"{prefix}*", count=100))


def queue_counts(client) -> dict:
    """Counts of queued, processing (also per consumer), delayed and dead tasks; live consumers.

    `client` is a redis-py client; raises its `RedisError` when Redis is unreachable.
    """
    holders = _names_after(client, PROCESSING_KEY_PREFIX)
    pipe = client.pipeline(transaction=False)
    pipe.llen(TASKS_KEY)
    pipe.zcard(DELAYED_KEY)
    pipe.llen(DEAD_LETTER_KEY)
    for name in holders:
        pipe.llen(PROCESSING_KEY_PREFIX + name)
    queued, delayed, dead, *held = pipe.execute()
    by_consumer = dict(zip(holders, held, strict=True))
    return {
        "queued": queued,
        "processing": sum(held),
        "processing_by_consumer": by_consumer,
        "delayed": delayed,
        "dead": dead,
        "live_consumers": _names_after(client, HEARTBEAT_KEY_PREFIX),
    }
