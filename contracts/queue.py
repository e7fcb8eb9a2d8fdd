"""The queue contract: Redis key names and the task payload.

Producers RPUSH a JSON task onto `TASKS_KEY`; consumers take from its head. A task in exactly the
seed's shape (`pet_id`, `name`, `species`, `age`, `owner`, `vaccinated`, no `task_id`) pushed by
hand with redis-cli is valid too: it gets a stable id derived from its bytes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

KEY_PREFIX = "pets:"
TASKS_KEY = "pets:tasks"
DEAD_LETTER_KEY = "pets:dead"
PROCESSING_KEY_PREFIX = "pets:processing:"
WIKIPEDIA_CACHE_PREFIX = "pets:wikipedia:"


def processing_key(consumer_name: str) -> str:
    """The list holding the tasks a consumer has taken and not yet finished."""
    return f"{PROCESSING_KEY_PREFIX}{consumer_name}"


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

    def pet_data(self) -> dict:
        """The pet as the seed's task carried it (the file's `original_data`)."""
        return {
            "pet_id": self.pet_id,
            "name": self.name,
            "species": self.species,
            "age": self.age,
            "owner": self.owner,
            "vaccinated": self.vaccinated,
        }

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, ensure_ascii=False)


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
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    )
