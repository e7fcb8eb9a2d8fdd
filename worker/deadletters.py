"""Operator tools for the dead-letter list (`python consumer.py dead ...`).

An entry can be named by its own id or by its task id (the one the worker logs print).
"""

from __future__ import annotations

import redis

from contracts.dead_letters import DeadLetter
from contracts.queue import DEAD_LETTER_KEY, TASKS_KEY, InvalidTask, parse_task


def _entries(client: redis.Redis) -> list[tuple[bytes, DeadLetter]]:
    return [(raw, DeadLetter.from_json(raw)) for raw in client.lrange(DEAD_LETTER_KEY, 0, -1)]


def list_entries(client: redis.Redis) -> list[DeadLetter]:
    return [entry for _, entry in _entries(client)]


def find_entry(client: redis.Redis, key: str) -> DeadLetter | None:
    """The entry with this id or task id (the newest, if a task died more than once)."""
    found = None
    for _, entry in _entries(client):
        if entry.matches(key):
            found = entry
    return found


def requeue_payload(entry: DeadLetter) -> str:
    """The task to queue again: its failure history cleared (a malformed payload goes as it was)."""
    try:
        return parse_task(entry.payload).fresh().to_json()
    except InvalidTask:
        return entry.payload


def requeue(client: redis.Redis, keys: list[str] | None) -> int:
    """Move dead letters (all when `keys` is None) back to the queue; returns how many."""
    moved = 0
    for raw, entry in _entries(client):
        if keys is not None and not any(entry.matches(key) for key in keys):
            continue
        payload = requeue_payload(entry)
        with client.pipeline(transaction=True) as pipe:
            pipe.lrem(DEAD_LETTER_KEY, 1, raw)
            pipe.rpush(TASKS_KEY, payload)
            removed, _ = pipe.execute()
        if not removed:  # another operator took it meanwhile: undo our push
            client.lrem(TASKS_KEY, -1, payload)
        else:
            moved += 1
    return moved


def purge(client: redis.Redis) -> int:
    with client.pipeline(transaction=True) as pipe:
        pipe.llen(DEAD_LETTER_KEY)
        pipe.delete(DEAD_LETTER_KEY)
        count, _ = pipe.execute()
    return count
