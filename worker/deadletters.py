"""Operator tools for the dead-letter list (`python consumer.py dead ...`)."""

from __future__ import annotations

import json

import redis

from contracts.queue import DEAD_LETTER_KEY, TASKS_KEY, InvalidTask, parse_task


def list_entries(client: redis.Redis) -> list[dict]:
    return [json.loads(raw) for raw in client.lrange(DEAD_LETTER_KEY, 0, -1)]


def find_entry(client: redis.Redis, entry_id: str) -> tuple[bytes, dict] | None:
    for raw in client.lrange(DEAD_LETTER_KEY, 0, -1):
        entry = json.loads(raw)
        if entry.get("id") == entry_id:
            return raw, entry
    return None


def requeue_payload(entry: dict) -> str:
    """The task to queue again: its failure history cleared (a malformed payload goes as it was)."""
    try:
        return parse_task(entry["payload"]).fresh().to_json()
    except InvalidTask:
        return entry["payload"]


def requeue(client: redis.Redis, entry_ids: list[str] | None) -> int:
    """Move dead letters (all when `entry_ids` is None) back to the queue; returns how many."""
    moved = 0
    for raw in client.lrange(DEAD_LETTER_KEY, 0, -1):
        entry = json.loads(raw)
        if entry_ids is not None and entry.get("id") not in entry_ids:
            continue
        with client.pipeline(transaction=True) as pipe:
            pipe.lrem(DEAD_LETTER_KEY, 1, raw)
            pipe.rpush(TASKS_KEY, requeue_payload(entry))
            removed, _ = pipe.execute()
        if not removed:  # another operator took it meanwhile: undo our push
            client.lrem(TASKS_KEY, -1, requeue_payload(entry))
        else:
            moved += 1
    return moved


def purge(client: redis.Redis) -> int:
    with client.pipeline(transaction=True) as pipe:
        pipe.llen(DEAD_LETTER_KEY)
        pipe.delete(DEAD_LETTER_KEY)
        count, _ = pipe.execute()
    return count
