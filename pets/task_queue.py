"""The API's side of the queue: a lazily created Redis client and the enqueue call.

The client is built on first use, never at import, with short timeouts: an API whose Redis is
down still answers quickly (the pet is saved, `task_queued` is false, and the outbox relay
sends the task once Redis is back).
"""

from __future__ import annotations

import logging
import threading

import redis
from django.conf import settings

from contracts.queue import DEAD_LETTER_KEY, DELAYED_KEY, PROCESSING_KEY_PREFIX, TASKS_KEY

log = logging.getLogger(__name__)

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
                    socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
                    health_check_interval=30,
                )
    return _client


def push_task(payload: str) -> bool:
    """RPUSH a task; False (and a warning) when Redis cannot take it."""
    try:
        get_redis().rpush(TASKS_KEY, payload)
    except redis.RedisError as exc:
        log.warning("Could not queue an enrichment task: %s", exc)
        return False
    return True


def queue_stats() -> dict:
    """The seed's stats fields plus the counts of tasks in flight and dead letters.

    Raises `redis.RedisError` when Redis is unreachable.
    """
    client = get_redis()
    info = client.info()
    processing_keys = list(client.scan_iter(match=f"{PROCESSING_KEY_PREFIX}*", count=100))
    pipe = client.pipeline(transaction=False)
    pipe.llen(TASKS_KEY)
    pipe.llen(DEAD_LETTER_KEY)
    pipe.zcard(DELAYED_KEY)
    for key in processing_keys:
        pipe.llen(key)
    pending, dead, delayed, *processing = pipe.execute()
    connection = client.connection_pool.connection_kwargs
    return {
        "queue_name": TASKS_KEY,
        "pending_tasks": pending,
        "processing_tasks": sum(processing),
        "delayed_tasks": delayed,
        "dead_letter_tasks": dead,
        "redis_host": connection.get("host", ""),
        "redis_port": connection.get("port", 0),
        "connected_clients": info.get("connected_clients", 0),
        "total_commands_processed": info.get("total_commands_processed", 0),
        "redis_version": str(info.get("redis_version", "")),
        "uptime_in_seconds": info.get("uptime_in_seconds", 0),
        "used_memory_human": str(info.get("used_memory_human", "")),
    }
