"""The dead-letter entry: what could not be processed, why, and what to requeue.

Workers append entries to the Redis list `DEAD_LETTER_KEY` (contracts/tasks.py); operators read
and requeue them (`consumer.py dead ...`). An entry is stored as ASCII-only JSON, so whatever a
poison payload holds (lone surrogates, control characters, megabytes of brackets) the entry itself
can always be written, read and printed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field

from contracts.tasks import Task, utc_now_iso

MAX_PAYLOAD_CHARS = 64 * 1024  # a poison payload is kept for diagnosis, not in full past this
# The list keeps the newest this many entries: past it the oldest go (each was logged when it failed).
DEAD_LETTERS_KEPT = 10_000
MAX_ERROR_CHARS = 500


def payload_text(raw: bytes | str) -> str:
    """A payload as text that can always be encoded again (undecodable bytes become escapes)."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class DeadLetter:
    payload: str  # the task to queue again (for a malformed one: what was received)
    error: str | None
    consumer: str
    task_id: str | None = None
    pet_id: str | None = None
    attempts: int = 0
    enqueued_at: str | None = None
    failed_at: str = field(default_factory=utc_now_iso)
    payload_truncated: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def for_task(cls, task: Task, *, consumer: str) -> DeadLetter:
        """A parsed task that failed for good: requeueing it gives it a fresh set of attempts."""
        return cls(
            payload=task.to_json(),
            error=task.last_error,
            consumer=consumer,
            task_id=task.task_id,
            pet_id=task.pet_id,
            attempts=task.attempts,
            enqueued_at=task.enqueued_at,
        )

    @classmethod
    def for_payload(cls, raw: bytes | str, *, error: str, consumer: str) -> DeadLetter:
        """A payload that could not even be handled as a task (malformed, or poison)."""
        text = payload_text(raw)
        return cls(
            payload=text[:MAX_PAYLOAD_CHARS],
            payload_truncated=len(text) > MAX_PAYLOAD_CHARS,
            error=payload_text(error)[:MAX_ERROR_CHARS],
            consumer=consumer,
        )

    def matches(self, key: str) -> bool:
        """Operators may name an entry by its own id or by the task id that the logs print."""
        return key in (self.id, self.task_id)

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.payload_truncated:
            del data["payload_truncated"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeadLetter:
        data = json.loads(raw)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known.setdefault("payload", "")
        known.setdefault("error", None)
        known.setdefault("consumer", "")
        return cls(**known)
