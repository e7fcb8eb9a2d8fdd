"""The live event contract: what happened to pets and their tasks, for browsers to follow.

The API and the workers append events to one capped Redis Stream, `EVENTS_KEY`, in the same
transaction as the change they describe; the API serves the stream as Server-Sent Events
(`GET /api/events/`, pets/live.py), the stream entry's id being the SSE event id, so a browser that
reconnects with `Last-Event-ID` gets what it missed. The stream keeps the newest `EVENTS_MAX_LEN`
entries (trimmed approximately, which Redis does cheaply).

Events are public: the public page shows them to anyone. They carry what that page shows (the pet's
fields, its enrichment state and summary), never an error text, a payload or a consumer's host.

    pet.created / pet.updated   {"pet": {id, name, species, age, owner, vaccinated}}
    pet.deleted                 {"pet_id"}
    task.retrying               {"pet_id", "task_id", "attempt", "next_attempt_at"}
    task.dead                   {"pet_id", "task_id", "attempts"}
    task.cancelled              {"pet_id", "task_id"}
    task.done                   {"pet_id", "task_id", "result": {extract, wikipedia_url, thumbnail,
                                 species_facts, health_tips, age_category, file}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import orjson
import redis
from redis.typing import EncodableT, FieldT

EVENTS_KEY = "pets:events"  # stream: one entry per event, fields `type` and `data` (JSON)
EVENTS_MAX_LEN = 10_000  # about: XADD trims whole macro nodes past it (MAXLEN ~)

PET_CREATED = "pet.created"
PET_UPDATED = "pet.updated"
PET_DELETED = "pet.deleted"
TASK_RETRYING = "task.retrying"
TASK_DEAD = "task.dead"
TASK_DONE = "task.done"
TASK_CANCELLED = "task.cancelled"
EVENT_TYPES = (PET_CREATED, PET_UPDATED, PET_DELETED, TASK_RETRYING, TASK_DEAD, TASK_DONE, TASK_CANCELLED)

StreamEntry = tuple[bytes, dict[bytes, bytes]]  # an XRANGE/XREAD entry as the bytes clients read it
Announcement = tuple[str, dict]  # an event to add: its type and data

PUBLIC_PET_FIELDS = ("id", "name", "species", "age", "owner", "vaccinated")
PUBLIC_RESULT_FIELDS = (
    "extract", "wikipedia_url", "thumbnail", "species_facts", "health_tips", "age_category", "file"
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    id: str  # the stream entry id, "<milliseconds>-<sequence>": ordered, and the SSE event id
    type: str
    data: dict

    @classmethod
    def from_entry(cls, entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> Event | None:
        """An entry read back from the stream (None if it is not one of ours)."""
        try:
            data = orjson.loads(fields[b"data"])
            kind = fields[b"type"].decode()
        except (KeyError, UnicodeDecodeError, orjson.JSONDecodeError):
            return None
        if kind not in EVENT_TYPES or not isinstance(data, dict):
            return None
        return cls(entry_id_text(entry_id), kind, data)

    def to_sse(self) -> bytes:
        """The event as a Server-Sent Events message (`data` is one line of JSON)."""
        return b"id: %s\nevent: %s\ndata: %s\n\n" % (self.id.encode(), self.type.encode(), orjson.dumps(self.data))


def add_event(pipe: redis.client.Pipeline, kind: str, data: Mapping[str, object]) -> None:
    """Queue the XADD of one event on `pipe` (the caller executes it, with the change it describes)."""
    pipe.xadd(EVENTS_KEY, event_fields(kind, data), maxlen=EVENTS_MAX_LEN, approximate=True)


def event_fields(kind: str, data: Mapping[str, object]) -> dict[FieldT, EncodableT]:
    """An event's stream entry: its type and its data as JSON."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    return {"type": kind, "data": orjson.dumps(data)}


def newest_event_id(client: redis.Redis) -> str:
    """The newest event's id ("0-0" when there is none): a reader that has seen everything up to
    now resumes after it."""
    return newest_id_in(cast("list[StreamEntry]", client.xrevrange(EVENTS_KEY, count=1)))


def newest_id_in(reply: Sequence[StreamEntry] | None) -> str:
    """The id in an `XREVRANGE events + - COUNT 1` reply ("0-0" for an empty stream); the async
    reader (pets/live.py) sends the same command."""
    return entry_id_text(reply[0][0]) if reply else "0-0"


def entry_id_text(entry_id: bytes | str) -> str:
    """A stream entry id as text, whether the client decodes replies or not."""
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


class FieldsByName(Protocol):
    """A stored pet document (a dict), or a MongoEngine document, which reads its fields by name too."""

    def __getitem__(self, name: str, /) -> object: ...


def pet_event(kind: str, pet_id: str, pet: FieldsByName) -> Announcement:
    """A pet.created or pet.updated event: the pet's public fields."""
    fields = {field: pet[field] for field in PUBLIC_PET_FIELDS if field != "id"}
    return kind, {"pet": {"id": pet_id, **fields}}


def public_result(result: Mapping[str, object]) -> dict:
    """The enrichment result's fields the public page shows."""
    return {field: result.get(field) for field in PUBLIC_RESULT_FIELDS}


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair; ("0", "0") for one that is not a stream id."""
    milliseconds, _, sequence = entry_id.partition("-")
    try:
        return int(milliseconds), int(sequence or 0)
    except ValueError:
        return 0, 0
