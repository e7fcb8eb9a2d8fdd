"""The panel's actions on the dead letters: the shared operations (queue_tools/dead_letter_ops.py),
each recorded in the audit trail with who did it and to what."""

from __future__ import annotations

import redis

from queue_tools import audit, dead_letter_ops


def requeue_one(client: redis.Redis, *, who: str, entry_id: str) -> int:
    moved = dead_letter_ops.requeue(client, [entry_id])
    audit.record(client, who=who, action="requeue", detail=f"dead letter {entry_id}: {moved} requeued")
    return moved


def requeue_matching(client: redis.Redis, *, who: str, search: str) -> int:
    moved = dead_letter_ops.requeue_matching(client, search)
    audit.record(client, who=who, action="requeue matching", detail=f"{search!r}: {moved} requeued")
    return moved


def purge(client: redis.Redis, *, who: str) -> int:
    deleted = dead_letter_ops.purge(client)
    audit.record(client, who=who, action="purge", detail=f"{deleted} dead letter(s) deleted")
    return deleted
