"""The operators' actions: on the dead letters (the shared queue_tools/dead_letter_ops.py) and on
single tasks found in their history (cancel, retry); each recorded in the audit trail with who did
it and to what. The panel (ops/views.py) and the API (ops/api.py) both act through here."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from contracts.history import HistoryEntry
from contracts.task_status import DEAD
from pets import producer, selectors
from pets.producer import Cancel
from queue_tools import audit, dead_letter_ops
from queue_tools.history import DeadLetterFilter, TaskFilter


def requeue_one(client: redis.Redis, *, who: str, entry_id: str) -> int:
    moved = dead_letter_ops.requeue(client, [entry_id], by=who)
    audit.record(client, who=who, action="requeue", detail=f"dead letter {entry_id}: {moved} requeued")
    return moved


def requeue_matching(client: redis.Redis, *, who: str, search: str) -> int:
    moved = dead_letter_ops.requeue_matching(client, search, by=who)
    audit.record(client, who=who, action="requeue matching", detail=f"{search!r}: {moved} requeued")
    return moved


def purge(client: redis.Redis, *, who: str) -> int:
    deleted = dead_letter_ops.purge(client)
    audit.record(client, who=who, action="purge", detail=f"{deleted} dead letter(s) deleted")
    return deleted


UNKNOWN_TASK = "No task of that id in the history"


@dataclass(frozen=True)
class Refused:
    """An action that would change nothing: why (answered 409)."""

    why: str


def cancel_task(client: redis.Redis, *, who: str, entry: HistoryEntry) -> Cancel | Refused:
    """Cancel one task found in the history: it must be its pet's current task."""
    task_id = entry.task_id
    if selectors.pet_get(entry.pet_id) is None:
        return Refused("Its pet was deleted (which cancelled whatever of it was pending)")
    cancel = producer.cancel(entry.pet_id, by=who, staged_task_id=None, only_task_id=task_id)
    if cancel.outcome == "superseded":
        return Refused("Not the pet's current task: a newer one superseded it")
    if cancel.outcome in ("cancelled", "cancelling"):
        audit.record(client, who=who, action="cancel", detail=f"task {task_id} of pet {entry.pet_id}: {cancel.outcome}")
    return cancel


def retry_task(client: redis.Redis, *, who: str, entry: HistoryEntry) -> int | Refused:
    """Requeue one dead task (its dead letter) with a fresh set of attempts."""
    task_id = entry.task_id
    if entry.state != DEAD:
        return Refused(f"Only a dead task can be retried; this one is {entry.state}")
    moved = dead_letter_ops.requeue(client, [task_id], by=who)
    if not moved:
        return Refused("Its dead letter is gone (purged, requeued by someone else, or past the list's bound)")
    audit.record(client, who=who, action="retry", detail=f"task {task_id} of pet {entry.pet_id}: requeued")
    return moved


def count_dead(client: redis.Redis, task_filter: TaskFilter) -> int:
    """How many dead letters a bulk requeue with this filter would requeue now."""
    return dead_letter_ops.count_where(client, DeadLetterFilter(task_filter).matches)


def requeue_dead(client: redis.Redis, *, who: str, task_filter: TaskFilter) -> int:
    """Requeue every dead letter matching the filter (never an empty one: it would match all)."""
    if task_filter.empty:
        raise ValueError("a filter is required")
    moved = dead_letter_ops.requeue_where(client, DeadLetterFilter(task_filter).matches, by=who)
    audit.record(client, who=who, action="requeue dead by filter", detail=f"{describe(task_filter)}: {moved} requeued")
    return moved


def describe(task_filter: TaskFilter) -> str:
    shown = {name: value for name, value in vars(task_filter).items() if value}
    return ", ".join(f"{name}={value}" for name, value in shown.items())
