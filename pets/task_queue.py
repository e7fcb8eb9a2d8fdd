"""The API's side of the queue: push a task, and read the queue's statistics.

When Redis is down a push returns False: the pet is saved with its task (pets/outbox.py) and the
relay sends it once Redis is back.
"""

from __future__ import annotations

import logging

import redis

from contracts.queue import TASKS_KEY
from contracts.queue_state import queue_counts
from pets.redis_client import get_redis

log = logging.getLogger(__name__)


def push_task(payload: str) -> bool:
    """RPUSH a task; False (and a warning) when Redis cannot take it."""
    try:
        get_redis().rpush(TASKS_KEY, payload)
    except redis.RedisError as exc:
        log.warning("Could not queue an enrichment task: %s", exc)
        return False
    return True


def redis_ping() -> bool:
    try:
        return bool(get_redis().ping())
    except redis.RedisError:
        return False


def queue_stats() -> dict:
    """The seed's stats fields, plus where the tasks are and which consumers are alive.

    Raises `redis.RedisError` when Redis is unreachable.
    """
    client = get_redis()
    info = client.info()
    counts = queue_counts(client)
    connection = client.connection_pool.connection_kwargs
    return {
        "queue_name": TASKS_KEY,
        "pending_tasks": counts["queued"],
        "processing_tasks": counts["processing"],
        "delayed_tasks": counts["delayed"],
        "dead_letter_tasks": counts["dead"],
        "live_consumers": counts["live_consumers"],
        "redis_host": connection.get("host", ""),
        "redis_port": connection.get("port", 0),
        "connected_clients": info.get("connected_clients", 0),
        "total_commands_processed": info.get("total_commands_processed", 0),
        "redis_version": str(info.get("redis_version", "")),
        "uptime_in_seconds": info.get("uptime_in_seconds", 0),
        "used_memory_human": str(info.get("used_memory_human", "")),
    }
