"""The queue contract: Redis key names and the task payload.

A task has a priority, `high`, `normal` (the default) or `low`, and waits in that priority's list
(`queue_key`); `normal` is plain `pets:tasks`, where hand-pushed tasks land. Producers RPUSH the JSON task onto
its list and, in the same transaction, a token onto `WAKE_KEY`, which idle consumers block on
(a consumer can block on one list only, and tasks must move atomically into its processing list);
consumers take from the heads, high first (worker/priorities.py bounds how long a low task waits).

A task of just the six pet fields (`pet_id`, `name`, `species`, `age`, `owner`,
`vaccinated`, no `task_id`) pushed by hand onto `pets:tasks` with redis-cli is valid too: it is a
normal task with a stable id derived from its bytes. No token comes with it, so an idle consumer
finds it at its next look (within CONSUMER_POLL_SECONDS).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import orjson
import redis

from infra.redis_scripts import redis_script

TASKS_KEY = "pets:tasks"  # list of normal tasks (and those pushed by hand): RPUSH, taken from the head
HIGH, NORMAL, LOW = "high", "normal", "low"
CREATED, UPDATED = "created", "updated"  # a task's `reason`: the write that queued it
PRIORITIES = (HIGH, NORMAL, LOW)  # the order consumers prefer
QUEUE_KEYS = {HIGH: "pets:tasks:high", NORMAL: TASKS_KEY, LOW: "pets:tasks:low"}
WAKE_KEY = "pets:tasks:wake"  # list of tokens, one per push: idle consumers block on it
WAKE_TOKENS_KEPT = 64  # producers trim it: a backlog of tokens only wakes consumers for nothing
DELAYED_KEY = "pets:delayed"  # sorted set: tasks waiting for a retry, scored by when they are due
DEAD_LETTER_KEY = "pets:dead"  # list: what could not be processed, with why
PROCESSING_KEY_PREFIX = "pets:processing:"  # list per consumer: taken, not yet finished
HEARTBEAT_KEY_PREFIX = "pets:heartbeat:"  # string per consumer, with a TTL: "I am alive"
# Set: the consumers that beat or hold a processing list; the reaper and the counts read it, never
# a scan of the keyspace (which holds a done marker per finished task). A consumer joins with each
# beat and each take; the reaper removes one whose heartbeat lapsed once its list is requeued.
CONSUMERS_KEY = "pets:consumers"
DONE_KEY_PREFIX = "pets:done:"  # string per finished task: its file name
# Sorted set: ids of cancelled tasks, scored by when (seconds). Consumers drop a task found in it
# when they take it and before they write its result; the API keeps each id
# CANCELLED_MARKER_SECONDS (infra/lua/cancel_task.lua), long past any queue's wait.
CANCELLED_KEY = "pets:cancelled"
CANCELLED_MARKER_SECONDS = 7 * 24 * 3600
WIKIPEDIA_KEY_PREFIX = "pets:wikipedia:"  # summaries per species, the shared rate limiter


def queue_key(priority: str) -> str:
    """The list where tasks of this priority wait."""
    return QUEUE_KEYS[priority]


# infra/lua/push_task.lua: the task onto its list, and a wake-up token (infra/lua/lib/wake.lua, the
# one definition of how producers wake idle consumers, shared by every script that queues tasks).
PUSH_TASK = redis_script("push_task", WAKE_TOKENS_KEPT=WAKE_TOKENS_KEPT)


def push_task(pipe: redis.client.Pipeline, payload: str, priority: str) -> None:
    """Queue the push of a task onto its priority's list, with a consumer's wake-up token, on
    `pipe` (the caller executes it, inside a transaction with the rest of its change)."""
    PUSH_TASK.queue(pipe, [queue_key(priority), WAKE_KEY], [payload])


def processing_key(consumer_name: str) -> str:
    """The list holding the tasks a consumer has taken and not yet finished."""
    return f"{PROCESSING_KEY_PREFIX}{consumer_name}"


def heartbeat_key(consumer_name: str) -> str:
    return f"{HEARTBEAT_KEY_PREFIX}{consumer_name}"


def done_key(task_id: str) -> str:
    return f"{DONE_KEY_PREFIX}{task_id}"


class InvalidTask(ValueError):
    """A payload that can never be processed (not JSON, missing or mistyped fields)."""


@dataclass(frozen=True)
class Task:
    task_id: str
    pet_id: str
    name: str
    species: str
    age: int
    owner: str
    vaccinated: bool
    enqueued_at: str | None = None
    reason: str | None = None
    attempts: int = 0  # failed attempts so far
    last_error: str | None = None
    priority: str = NORMAL  # kept through retries and requeues

    def pet_data(self) -> dict:
        """The six pet fields, as the file's `original_data` shows them."""
        return {
            "pet_id": self.pet_id,
            "name": self.name,
            "species": self.species,
            "age": self.age,
            "owner": self.owner,
            "vaccinated": self.vaccinated,
        }

    def enqueued_datetime(self) -> datetime | None:
        """When the producer queued it; fixes the result's file name, so redeliveries find it."""
        try:
            when = datetime.fromisoformat(self.enqueued_at) if self.enqueued_at else None
        except ValueError:
            return None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when

    def to_json(self) -> str:
        data = {k: v for k, v in vars(self).items() if v is not None}
        if not self.attempts:
            data.pop("attempts")
        if self.priority == NORMAL:
            data.pop("priority")  # a normal task carries no priority field: the six pet fields only
        return orjson.dumps(data).decode()

    def after_failure(self, error: str) -> Task:
        """This task as it goes back to the queue after one more failed attempt."""
        return replace(self, attempts=self.attempts + 1, last_error=error[:500])

    def fresh(self) -> Task:
        """This task with its failure history cleared (an operator requeues a dead letter)."""
        return replace(self, attempts=0, last_error=None)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


def build_task(
    *, pet_id: str, name: str, species: str, age: int, owner: str, vaccinated: bool, reason: str,
    priority: str = NORMAL,
) -> Task:  # fmt: skip
    """A new task for a pet, with a unique id and the time it was enqueued."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    return Task(
        task_id=uuid.uuid4().hex,
        pet_id=pet_id,
        name=name,
        species=species,
        age=age,
        owner=owner,
        vaccinated=vaccinated,
        enqueued_at=utc_now_iso(),
        reason=reason,
        priority=priority,
    )


def _require_str(data: dict, key: str, *, allow_empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise InvalidTask(f"'{key}' must be a non-empty string")
    return value


def parse_task(raw: bytes | str) -> Task:
    """Parse a payload from the queue, or raise `InvalidTask` saying why it is unusable."""
    try:
        # orjson refuses what would break the consumer later: invalid UTF-8, lone surrogates,
        # nesting deeper than 1024; integers past 64 bits become floats (refused as an age).
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidTask(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidTask("payload is not a JSON object")
    pet_id = _require_str(data, "pet_id")
    age = data.get("age")
    if isinstance(age, bool) or not isinstance(age, int) or age < 0:
        raise InvalidTask("'age' must be a non-negative integer")
    vaccinated = data.get("vaccinated", False)
    if not isinstance(vaccinated, bool):
        raise InvalidTask("'vaccinated' must be true or false")
    attempts = data.get("attempts", 0)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        raise InvalidTask("'attempts' must be a non-negative integer")
    priority = data.get("priority", NORMAL)
    if priority not in PRIORITIES:
        raise InvalidTask(f"'priority' must be one of {', '.join(PRIORITIES)}")
    task_id = data.get("task_id")
    if task_id is None:
        raw_bytes = raw.encode() if isinstance(raw, str) else raw
        task_id = "manual-" + hashlib.sha256(raw_bytes).hexdigest()[:24]
    elif not isinstance(task_id, str) or not task_id:
        raise InvalidTask("'task_id' must be a non-empty string")
    return Task(
        task_id=task_id,
        pet_id=pet_id,
        name=_require_str(data, "name"),
        species=_require_str(data, "species"),
        age=age,
        owner=_require_str(data, "owner", allow_empty=True) if "owner" in data else "",
        vaccinated=vaccinated,
        enqueued_at=data.get("enqueued_at") if isinstance(data.get("enqueued_at"), str) else None,
        reason=data.get("reason") if isinstance(data.get("reason"), str) else None,
        attempts=attempts,
        last_error=data.get("last_error") if isinstance(data.get("last_error"), str) else None,
        priority=priority,
    )
