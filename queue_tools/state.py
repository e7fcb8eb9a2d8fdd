"""Where the tasks are right now: one reading of the queue's keys, for the API and the operators."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.tasks import (
    CONSUMERS_KEY,
    DEAD_LETTER_KEY,
    DELAYED_KEY,
    PRIORITIES,
    InvalidTask,
    heartbeat_key,
    parse_task,
    processing_key,
    queue_key,
)


def queue_counts(client) -> dict:
    """Counts of queued, processing (also per consumer), delayed and dead tasks; live consumers.
    Two round trips, however many keys Redis holds: the consumers set (contracts/tasks.py), then
    every count at once.

    `client` is a redis-py client; raises its `RedisError` when Redis is unreachable.
    """
    consumers = sorted(name.decode() for name in client.smembers(CONSUMERS_KEY))
    pipe = client.pipeline(transaction=False)
    for priority in PRIORITIES:
        pipe.llen(queue_key(priority))
    pipe.zcard(DELAYED_KEY)
    pipe.llen(DEAD_LETTER_KEY)
    for name in consumers:
        pipe.llen(processing_key(name))
    for name in consumers:
        pipe.exists(heartbeat_key(name))
    replies = pipe.execute()
    by_priority = dict(zip(PRIORITIES, replies[: len(PRIORITIES)], strict=True))
    delayed, dead, *per_consumer = replies[len(PRIORITIES) :]
    held, beating = per_consumer[: len(consumers)], per_consumer[len(consumers) :]
    by_consumer = {name: count for name, count in zip(consumers, held, strict=True) if count}
    return {
        "queued": sum(by_priority.values()),
        "queued_by_priority": by_priority,
        "processing": sum(held),
        "processing_by_consumer": by_consumer,
        "delayed": delayed,
        "dead": dead,
        "live_consumers": [name for name, alive in zip(consumers, beating, strict=True) if alive],
    }


def oldest_queued_age_seconds(client, now: datetime | None = None) -> float:
    """How long the longest-waiting task at the head of a priority list has waited since it was
    first queued; 0 when the lists are empty or their heads carry no enqueue time (pushed by
    hand). What autoscalers and alerts watch: it grows when consumers fall behind."""
    pipe = client.pipeline(transaction=False)
    for priority in PRIORITIES:
        pipe.lindex(queue_key(priority), 0)
    now = now or datetime.now(UTC)
    return max((_age(head, now) for head in pipe.execute()), default=0.0)


def _age(head: bytes | None, now: datetime) -> float:
    if head is None:
        return 0.0
    try:
        enqueued = parse_task(head).enqueued_datetime()
    except InvalidTask:
        return 0.0
    if enqueued is None:
        return 0.0
    return max(0.0, (now - enqueued).total_seconds())
