"""Finding tasks in their history (contracts/history.py), for the panel and `GET /api/tasks/`.

A search reads the narrowest index its filters allow (a pet, a name, a consumer, a species, a
state, or all tasks), newest first, between its time bounds, and checks the other filters on each
entry. It looks at `SCAN_BUDGET` entries at most per page, so a page costs the same however much
history is kept: when the budget runs out before the page is full, the page says so
(`exhausted` False) and its cursor goes on from where it stopped.

The bulk requeue of dead tasks works on the dead-letter list itself (the tasks to requeue are
there, whatever history is still kept): `DeadLetterFilter` matches its entries with the same filters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import redis

from contracts.dead_letters import DeadLetter
from contracts.history import ALL_INDEX, HISTORY_KEY, HistoryEntry, index_key, name_key, species_index_key
from contracts.tasks import InvalidTask, parse_task

SCAN_BUDGET = 2000  # index entries looked at per page, at most
CHUNK = 200


class BadCursor(ValueError):
    """A cursor that is not one this module gave out."""


@dataclass(frozen=True)
class TaskFilter:
    pet_id: str = ""
    name: str = ""
    species: str = ""
    state: str = ""
    consumer: str = ""
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued at or before

    @property
    def empty(self) -> bool:
        """No filter at all: it matches every task."""
        return not (self.pet_id or self.name or self.species or self.state or self.consumer or self.since or self.until)

    def index(self) -> str:
        """The narrowest index these filters allow: the one read, the others checked per entry."""
        if self.pet_id:
            return index_key("pet", self.pet_id)
        if self.name:
            return index_key("name", name_key(self.name))
        if self.consumer:
            return index_key("consumer", self.consumer)
        if self.species:
            return index_key("species", species_index_key(self.species))
        if self.state:
            return index_key("state", self.state)
        return ALL_INDEX

    def matches(self, entry: HistoryEntry) -> bool:
        return (
            (not self.pet_id or entry.pet_id == self.pet_id)
            and (not self.name or name_key(entry.name) == name_key(self.name))
            and (not self.species or species_index_key(entry.species) == species_index_key(self.species))
            and (not self.state or entry.state == self.state)
            and (not self.consumer or self.consumer in entry.consumers)
        )

    def score_range(self) -> tuple[float, float]:
        # scores are whole milliseconds (contracts/history.task_score): `since` is too
        low = math.floor(self.since.timestamp() * 1000) if self.since else float("-inf")
        high = self.until.timestamp() * 1000 if self.until else float("inf")
        return low, high


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None  # where the next page starts; None: nothing older to look at
    exhausted: bool  # True: every task up to the cursor was looked at (False: the budget ran out first)
    scanned: int


def get(client: redis.Redis, task_id: str) -> HistoryEntry | None:
    raw = client.hget(HISTORY_KEY, task_id)
    return HistoryEntry.from_json(cast("bytes", raw)) if raw else None


def search(
    client: redis.Redis, task_filter: TaskFilter, *, limit: int, cursor: str | None = None, budget: int = SCAN_BUDGET
) -> HistoryPage:
    """Up to `limit` matching tasks, newest first, starting after `cursor`."""
    low, high = task_filter.score_range()
    after: tuple[float, str] | None = _parse_cursor(cursor) if cursor else None
    if after is not None:
        high = min(high, after[0])
    found: list[HistoryEntry] = []
    scanned = 0
    last: tuple[float, str] | None = None
    for chunk in _newest_first(client, task_filter.index(), low, high):
        if after is not None:  # shown on an earlier page: the same millisecond, ids in descending order
            chunk = [(task_id, score) for task_id, score in chunk if score != after[0] or task_id < after[1]]
        raws = cast("list[bytes | None]", client.hmget(HISTORY_KEY, [task_id for task_id, _ in chunk])) if chunk else []
        for (task_id, score), raw in zip(chunk, raws, strict=True):
            if scanned >= budget or len(found) >= limit:
                return HistoryPage(found, _cursor(last) if last else cursor, len(found) >= limit, scanned)
            scanned += 1
            last = (score, task_id)
            entry = HistoryEntry.from_json(raw) if raw else None
            if entry is not None and task_filter.matches(entry):
                found.append(entry)
    return HistoryPage(found, None, True, scanned)


def _newest_first(client: redis.Redis, index: str, low: float, high: float) -> Iterator[list[tuple[str, float]]]:
    """(task id, score) of the index between the bounds, newest first, CHUNK at a time."""
    offset = 0
    while True:
        chunk = cast(
            "list[tuple[bytes, float]]",
            client.zrevrangebyscore(index, high, low, start=offset, num=CHUNK, withscores=True),
        )
        yield [(member.decode(), score) for member, score in chunk]
        if len(chunk) < CHUNK:
            return
        offset += CHUNK


def _cursor(position: tuple[float, str]) -> str:
    return f"{int(position[0])}:{position[1]}"


def _parse_cursor(cursor: str) -> tuple[float, str]:
    score, _, task_id = cursor.partition(":")
    try:
        return float(int(score)), task_id
    except ValueError:
        raise BadCursor("cursor must be one a previous page gave") from None


@dataclass(frozen=True)
class DeadLetterFilter:
    """The task filters, on dead-letter entries: what a bulk requeue acts on."""

    task_filter: TaskFilter

    def matches(self, entry: DeadLetter) -> bool:
        wanted = self.task_filter
        try:
            task = parse_task(entry.payload)
        except InvalidTask:
            return False  # a malformed payload has no pet, name or species to match
        queued = task.enqueued_datetime()
        return (
            (not wanted.pet_id or task.pet_id == wanted.pet_id)
            and (not wanted.name or name_key(task.name) == name_key(wanted.name))
            and (not wanted.species or species_index_key(task.species) == species_index_key(wanted.species))
            and (not wanted.consumer or entry.consumer == wanted.consumer)
            and (not wanted.since or (queued is not None and queued >= wanted.since))
            and (not wanted.until or (queued is not None and queued <= wanted.until))
        )
