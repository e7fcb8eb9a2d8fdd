"""The queue contract: Redis key names and the task payload.

Producers RPUSH a JSON task onto `TASKS_KEY`; consumers take from its head. A task in exactly the
original Pet App's shape (`pet_id`, `name`, `species`, `age`, `owner`, `vaccinated`, no `task_id`) pushed by
hand with redis-cli is valid too: it gets a stable id derived from its bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import orjson

TASKS_KEY = "pets:tasks"  # list: producers RPUSH, consumers take from the head
DELAYED_KEY = "pets:delayed"  # sorted set: tasks waiting for a retry, scored by when they are due
DEAD_LETTER_KEY = "pets:dead"  # list: what could not be processed, with why
PROCESSING_KEY_PREFIX = "pets:processing:"  # list per consumer: taken, not yet finished
HEARTBEAT_KEY_PREFIX = "pets:heartbeat:"  # string per consumer, with a TTL: "I am alive"
DONE_KEY_PREFIX = "pets:done:"  # string per finished task: its file name
WIKIPEDIA_KEY_PREFIX = "pets:wikipedia:"  # summaries per species, the shared rate limiter


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

    def pet_data(self) -> dict:
        """The pet as the original Pet App's task carried it (the file's `original_data`)."""
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
        return json.dumps(data, ensure_ascii=False)

    def after_failure(self, error: str) -> Task:
        """This task as it goes back to the queue after one more failed attempt."""
        return replace(self, attempts=self.attempts + 1, last_error=error[:500])

    def fresh(self) -> Task:
        """This task with its failure history cleared (an operator requeues a dead letter)."""
        return replace(self, attempts=0, last_error=None)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


def build_task(*, pet_id: str, name: str, species: str, age: int, owner: str, vaccinated: bool, reason: str) -> Task:
    """A new task for a pet, with a unique id and the time it was enqueued."""
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
    )
