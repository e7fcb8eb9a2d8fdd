"""The task history contract: each task's life, kept in Redis beside the queue it describes.

Every step of a task (queued, taken by a consumer, retrying with an error, done with a file, dead,
cancelled, requeued by whom) is noted in the same atomic script as the queue move it describes
(infra/lua/lib/note_task.lua), so the history never says something the queue did not do:

    pets:history                      hash: task id -> the entry (JSON, below)
    pets:history:all                  sorted set: task ids, scored by when each was queued (ms)
    pets:history:pet:<pet id>         ... the same, for one pet
    pets:history:name:<name key>      ... for one pet name (case and spacing folded)
    pets:history:species:<key>        ... for one species (its species_key)
    pets:history:state:<state>        ... for the tasks now in that state
    pets:history:consumer:<name>      ... for the tasks a consumer took

A search reads one index (the narrowest its filters allow) newest first, a bounded number of entries
a call (queue_tools/history.py), so a page costs the same with ten tasks kept or a hundred thousand.
The newest `TASK_HISTORY_KEPT` tasks are kept: each new task past it drops the oldest one from the
hash and from every index it is in. An entry keeps its newest `EVENTS_PER_TASK` steps.

An entry:
    {"task_id", "pet_id", "name", "species", "species_key", "priority", "reason", "score" (ms),
     "queued_at", "updated_at", "state", "attempts", "consumers": [...], "file", "error",
     "events": [{"at", "event", "consumer"?, "by"?, "error"?, "file"?, "next_attempt_at"?}, ...]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis

from contracts.tasks import Task, utc_now_iso
from infra.redis_scripts import redis_script

HISTORY_KEY = "pets:history"
HISTORY_INDEX_PREFIX = "pets:history:"  # + "all", "pet:<id>", "name:<key>", "species:<key>"...
ALL_INDEX = HISTORY_INDEX_PREFIX + "all"
TASK_HISTORY_KEPT = 20_000  # the default of TASK_HISTORY_KEPT: tasks kept, newest first
EVENTS_PER_TASK = 20  # steps kept per task (a task has at most CONSUMER_MAX_ATTEMPTS retries)

# The steps of a task's life.
QUEUED = "queued"
TAKEN = "taken"
RETRYING = "retrying"
DONE = "done"
DEAD = "dead"
CANCELLED = "cancelled"
REQUEUED = "requeued"
CANCEL_REQUESTED = "cancel_requested"  # while a consumer had it: stopped before it writes
DROPPED = "dropped"  # a consumer found it cancelled: discarded, nothing written
STEPS = (QUEUED, TAKEN, RETRYING, DONE, DEAD, CANCELLED, CANCEL_REQUESTED, REQUEUED, DROPPED)
# What the scripts that note steps (infra/lua/lib/note_task.lua) are loaded with.
SCRIPT_CONSTANTS = {"HISTORY_INDEX_PREFIX": HISTORY_INDEX_PREFIX, "EVENTS_PER_TASK": EVENTS_PER_TASK}
NOTE_TASK = redis_script("note_task", **SCRIPT_CONSTANTS)
KEEP_AS_IS = 0  # as `kept`: note without trimming (for a caller that does not know TASK_HISTORY_KEPT)


def name_key(name: str) -> str:
    """The indexed form of a pet name: a name filter ignores case and spacing."""
    return " ".join(name.split()).casefold()


def species_index_key(species: str) -> str:
    """The same folding as the pet's stored species_key (pets/models.py)."""
    return " ".join(species.split()).casefold()


def index_key(kind: str, value: str) -> str:
    return f"{HISTORY_INDEX_PREFIX}{kind}:{value}"


def task_score(task: Task) -> int:
    """The task's place in every index: when it was queued, in milliseconds (now, for a task
    pushed by hand without an enqueue time)."""
    when = task.enqueued_datetime() or datetime.now(UTC)
    return int(when.timestamp() * 1000)


def note(task: Task, step: str, *, state: str | None = None, **details: object) -> str:
    """One step of `task`'s life, as note_task.lua takes it: who the task is (so the entry can be
    made at any step, also for a task pushed by hand) and what happened. `state` is the task's
    state after this step (None: unchanged)."""
    data: dict[str, object] = {
        "task_id": task.task_id,
        "pet_id": task.pet_id,
        "name": task.name,
        "name_key": name_key(task.name),
        "species": task.species,
        "species_key": species_index_key(task.species),
        "priority": task.priority,
        "reason": task.reason or "",
        "score": task_score(task),
        "queued_at": task.enqueued_at or utc_now_iso(),
        "at": utc_now_iso(),
        "event": step,
        "attempts": task.attempts,
    }
    if state is not None:
        data["state"] = state
    data.update((key, value) for key, value in details.items() if value is not None)
    return orjson.dumps(data).decode()


def note_on(pipe: redis.client.Pipeline, note_json: str, kept: int) -> None:
    """Queue one step's note on `pipe`, to run with the queue move it describes."""
    NOTE_TASK.queue(pipe, [HISTORY_KEY], [note_json, kept])


@dataclass(frozen=True)
class HistoryEntry:
    task_id: str
    pet_id: str
    name: str
    species: str
    state: str
    queued_at: str
    updated_at: str
    score: int
    priority: str = "normal"
    reason: str = ""
    attempts: int = 0
    consumers: list[str] = field(default_factory=list)
    file: str | None = None
    error: str | None = None
    events: list[dict] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: bytes | str) -> HistoryEntry | None:
        """The stored entry, or None if it cannot be read."""
        try:
            data = orjson.loads(raw)
            known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
            for listed in ("consumers", "events"):  # cjson writes an empty Lua table as {}
                if known.get(listed) == {}:
                    known[listed] = []
            return cls(**known)
        except (orjson.JSONDecodeError, TypeError):
            return None

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "score"}
