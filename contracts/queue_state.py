"""Where the tasks are right now: one reading of the queue's keys, for the API and the operators."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.queue import (
    DEAD_LETTER_KEY,
    DELAYED_KEY,
    HEARTBEAT_KEY_PREFIX,
    PROCESSING_KEY_PREFIX,
    TASKS_KEY,
    InvalidTask,
    parse_task,
)


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


def oldest_queued_age_seconds(client, now: datetime | None = None) -> float:
    """How long the task at the head of the queue (the next one a consumer takes) has waited since
    it was first queued; 0 when the queue is empty or that task carries no enqueue time (one
    pushed by hand). What autoscalers and alerts watch: it grows when consumers fall behind."""
    head = client.lindex(TASKS_KEY, 0)
    if head is None:
        return 0.0
    try:
        enqueued = parse_task(head).enqueued_datetime()
    except InvalidTask:
        return 0.0
    if enqueued is None:
        return 0.0
    return max(0.0, ((now or datetime.now(UTC)) - enqueued).total_seconds())
