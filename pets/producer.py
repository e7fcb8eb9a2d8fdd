"""The API's side of the queue: push a task, and read the queue's statistics.

When Redis is down a push returns False: the pet is saved with its task (pets/outbox.py) and the
relay sends it once Redis is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
import redis
from django.conf import settings
from redis.typing import EncodableT

from contracts import history
from contracts.events import (
    EVENTS_KEY,
    EVENTS_MAX_LEN,
    PET_DELETED,
    TASK_CANCELLED,
    Announcement,
    add_event,
    event_fields,
    newest_event_id,
)
from contracts.history import HISTORY_KEY
from contracts.task_status import QUEUED, STATUS_KEY, TaskStatus
from contracts.tasks import (
    CANCELLED_KEY,
    DELAYED_KEY,
    QUEUE_KEYS,
    TASKS_KEY,
    WAKE_KEY,
    WAKE_TOKENS_KEPT,
    Task,
    parse_task,
    queue_key,
    utc_now_iso,
)
from infra.redis_scripts import redis_script
from pets import counts
from pets.redis_client import get_redis
from queue_tools.state import queue_counts

log = logging.getLogger(__name__)

# Ids of tasks Redis has taken, each scored with when (a sorted set): the outbox relay clears those
# from their pets, and drops markers older than OUTBOX_MARKER_SECONDS (pets/outbox.py). It was a
# plain set, `pets:outbox:delivered`, whose markers of superseded tasks were never removed.
DELIVERED_KEY = "pets:outbox:delivered-at"


# enqueue() in one command (infra/lua/enqueue.lua), as atomic as the nine-command transaction it
# replaced: redis-py's work per command was most of a create's Redis CPU.
_CONSTANTS = {"EVENTS_MAX_LEN": EVENTS_MAX_LEN, "TASK_CANCELLED": TASK_CANCELLED, **history.SCRIPT_CONSTANTS}
ENQUEUE = redis_script("enqueue", WAKE_TOKENS_KEPT=WAKE_TOKENS_KEPT, **_CONSTANTS)
CANCEL_TASK = redis_script("cancel_task", **_CONSTANTS)


def enqueue(
    task: Task, payload: str, count_changes: counts.CountChanges = (), event: Announcement | None = None
) -> bool:
    """Push a task, mark it delivered for the outbox, mark its pet's enrichment queued, adjust
    the list counts, announce the change (contracts/events.py) and note the task in its history
    (contracts/history.py), in one round trip; False (and a warning) when Redis cannot take it.
    A task cancelled before Redis took it (the outbox relay sends it late) is only marked
    delivered."""
    keys, values = _enqueue_arguments(task, payload, count_changes, event)
    try:
        ENQUEUE(get_redis(), keys, values)
    except redis.RedisError as exc:
        log.warning("Could not queue an enrichment task: %s", exc)
        return False
    return True


def enqueue_on(pipe: redis.client.Pipeline, payload: str) -> None:
    """Queue the push of one staged task on `pipe` (the outbox relay pushes a batch at once)."""
    ENQUEUE.queue(pipe, *_enqueue_arguments(parse_task(payload), payload, (), None))


def _enqueue_arguments(
    task: Task, payload: str, count_changes: counts.CountChanges, event: Announcement | None
) -> tuple[list[str], list[EncodableT]]:
    """ENQUEUE's keys and values."""
    keys = [queue_key(task.priority), WAKE_KEY, DELIVERED_KEY, STATUS_KEY, counts.COUNTS_KEY, EVENTS_KEY]
    keys += [CANCELLED_KEY, HISTORY_KEY]
    status = TaskStatus(state=QUEUED, task_id=task.task_id, at=utc_now_iso()).to_json()
    announced = event_fields(*event) if event is not None else {"type": "", "data": ""}
    values = [payload, task.task_id, task.pet_id, status, announced["type"], announced["data"]]
    values += [history.note(task, history.QUEUED, state=QUEUED, payload=payload), settings.TASK_HISTORY_KEPT]
    return keys, [*values, *counts.adjustments(count_changes)]


@dataclass(frozen=True)
class Cancel:
    """What a cancel did: `outcome` is "cancelled" (the task was waiting: it will never run),
    "cancelling" (a consumer has it: it stops before writing anything), or why nothing was done:
    "none" (no task known for the pet), "done", "dead", "cancelled_before", "writing",
    "superseded" (not the pet's current task, when the caller named one)."""

    outcome: str
    task_id: str | None


def cancel(pet_id: str, *, by: str, staged_task_id: str | None, only_task_id: str | None = None) -> Cancel:
    """Cancel the pet's pending task (infra/lua/cancel_task.lua), in one atomic script.
    `staged_task_id`: the task saved with the pet that Redis has not taken yet (pets/outbox.py),
    cancelled when Redis knows of no other; `only_task_id`: cancel only if that is the pet's
    current task ("superseded" otherwise). Raises redis.RedisError when Redis is down."""
    keys, values = _cancel_arguments(pet_id, "cancel", by, staged_task_id, only_task_id)
    outcome, task_id = CANCEL_TASK(get_redis(), keys, values)
    return Cancel(outcome.decode(), task_id.decode() or None)


def _cancel_arguments(
    pet_id: str, mode: str, by: str, staged_task_id: str | None, only_task_id: str | None = None
) -> tuple[list[str], list[EncodableT]]:
    at = utc_now_iso()
    step = orjson.dumps({"at": at, "event": history.CANCELLED, "by": by})
    values: list[EncodableT] = [pet_id, mode, at, settings.CANCELLED_MARKER_SECONDS, settings.TASK_HISTORY_KEPT]
    values += [step, staged_task_id or "", only_task_id or ""]
    return [STATUS_KEY, CANCELLED_KEY, EVENTS_KEY, HISTORY_KEY, DELAYED_KEY, *QUEUE_KEYS.values()], values


def newest_event_seen() -> str | None:
    """The newest live event's id (contracts/events.py), for a page to follow events from there;
    None when Redis cannot say (the page then follows from whenever it connects)."""
    try:
        return newest_event_id(get_redis())
    except redis.RedisError:
        return None


def redis_ping() -> bool:
    try:
        return bool(get_redis().ping())
    except redis.RedisError:
        return False


def queue_stats() -> dict:
    """Queue name, pending count and Redis's own figures, plus where the tasks are and which consumers are alive.

    Raises `redis.RedisError` when Redis is unreachable.
    """
    client = get_redis()
    info = client.info()
    counts = queue_counts(client)
    pool = client.connection_pool
    connection = pool.connection_kwargs
    if hasattr(pool, "get_master_address"):  # under Sentinel: the master it found
        host, port = pool.get_master_address()
        connection = {"host": host, "port": port}
    return {
        "queue_name": TASKS_KEY,
        "pending_tasks": counts["queued"],
        "pending_by_priority": counts["queued_by_priority"],
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


def enrichment_states(pet_ids: list[str]) -> dict[str, TaskStatus]:
    """The enrichment state of each of these pets that has one (one HMGET); {} if Redis is down."""
    if not pet_ids:
        return {}
    try:
        raw = get_redis().hmget(STATUS_KEY, pet_ids)
    except redis.RedisError as exc:
        log.warning("Could not read enrichment states: %s", exc)
        return {}
    states = {pet_id: TaskStatus.from_json(entry) for pet_id, entry in zip(pet_ids, raw, strict=True) if entry}
    return {pet_id: status for pet_id, status in states.items() if status is not None}


def forget_pet(
    pet_id: str, count_changes: counts.CountChanges = (), *, by: str = "", staged_task_id: str | None = None
) -> None:
    """Cancel a deleted pet's pending task, drop its enrichment state, count it out and announce it
    (best effort: a leftover entry is never shown, and the counts heal when they expire)."""
    try:
        with get_redis().pipeline(transaction=True) as pipe:
            CANCEL_TASK.queue(pipe, *_cancel_arguments(pet_id, "delete", by, staged_task_id))
            counts.adjust(pipe, count_changes)
            add_event(pipe, PET_DELETED, {"pet_id": pet_id})
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("Could not drop the enrichment state of pet %s: %s", pet_id, exc)


def announce_change(count_changes: counts.CountChanges, event: Announcement) -> None:
    """Adjust the list counts and announce a change that queues no task (best effort, as above)."""
    try:
        with get_redis().pipeline(transaction=True) as pipe:
            counts.adjust(pipe, count_changes)
            add_event(pipe, *event)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("Could not announce a change to the pets: %s", exc)
