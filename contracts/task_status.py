"""Where each pet's enrichment stands: queued, processing, retrying, dead, done or cancelled.

One Redis hash, `STATUS_KEY`, maps a pet id to the state of its latest task. The API writes
`queued` when it pushes a task and `cancelled` when a user cancels it; workers write the other
states in the same transaction as the queue move they describe (worker/broker.py). The page reads
the visible pets' states with one HMGET. A worker only overwrites the state of its own task: when
a pet has been updated since, a newer task owns the entry, and an older task finishing late does
not hide it.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

STATUS_KEY = "pets:status"  # hash: pet id -> TaskStatus JSON

QUEUED = "queued"
PROCESSING = "processing"
RETRYING = "retrying"
DEAD = "dead"
DONE = "done"
CANCELLED = "cancelled"
TASK_STATES = (QUEUED, PROCESSING, RETRYING, DONE, DEAD, CANCELLED)
FINAL_STATES = frozenset({DONE, DEAD, CANCELLED})


@dataclass(frozen=True)
class TaskStatus:
    state: str
    task_id: str
    at: str  # when the task entered this state (ISO 8601, UTC)
    attempt: int = 0  # attempts made so far
    consumer: str | None = None
    next_attempt_at: str | None = None  # retrying: when it is due again
    error: str | None = None  # retrying or dead: the last error
    writing: bool | None = None  # processing, past the last check for a cancel: too late to cancel

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_json(self) -> str:
        # vars(), not asdict(): no deep copy of flat fields; orjson: json.dumps was 5 % of a
        # consumer's CPU, on every state change of every task.
        return orjson.dumps({k: v for k, v in vars(self).items() if v is not None}).decode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> TaskStatus | None:
        """The entry, or None if it cannot be read (never an exception: it is display data).

        orjson: a list of 100 pets reads 100 entries, and json.loads was half of each read."""
        try:
            data = orjson.loads(raw)
            return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
        except (ValueError, TypeError, KeyError):
            return None
