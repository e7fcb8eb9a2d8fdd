"""What operators do with the dead-letter list: the one module behind `python consumer.py dead ...`
and the operations panel (`/ops/`).

An entry can be named by its own id or by its task id (the one the worker logs print). Views
read a page at a time (`page`: one LRANGE of that page, newest first), so the list can hold tens
of thousands of entries; a search reads it in chunks and stops once it has its page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import redis

from contracts import history
from contracts.dead_letters import DeadLetter
from contracts.task_status import QUEUED, STATUS_KEY, TaskStatus
from contracts.tasks import DEAD_LETTER_KEY, NORMAL, InvalidTask, Task, parse_task, push_task, queue_key, utc_now_iso

SEARCH_CHUNK = 500


def _entries(client: redis.Redis) -> list[tuple[bytes, DeadLetter]]:
    raws = cast("list[bytes]", client.lrange(DEAD_LETTER_KEY, 0, -1))  # our clients never decode replies
    return [(raw, DeadLetter.from_json(raw)) for raw in raws]


def count(client: redis.Redis) -> int:
    return int(client.llen(DEAD_LETTER_KEY))


def page(client: redis.Redis, *, offset: int, limit: int) -> list[DeadLetter]:
    """Entries `offset` to `offset + limit` counted from the newest, newest first (one LRANGE)."""
    if limit <= 0:
        return []
    raws = client.lrange(DEAD_LETTER_KEY, -(offset + limit), -(offset + 1))
    return [DeadLetter.from_json(raw) for raw in reversed(raws)]


def matches(entry: DeadLetter, text: str) -> bool:
    """An entry's id, task id or pet id, or a piece of its error (any case)."""
    needle = text.strip()
    if needle in (entry.id, entry.task_id, entry.pet_id):
        return True
    return bool(needle) and needle.lower() in (entry.error or "").lower()


def search(client: redis.Redis, text: str, *, offset: int, limit: int) -> tuple[list[DeadLetter], bool]:
    """The matching entries `offset` to `offset + limit`, newest first, and whether more match.
    Reads the list newest first, SEARCH_CHUNK entries a call, and stops once it has its page."""
    found: list[DeadLetter] = []
    end = -1
    while len(found) <= offset + limit:
        raws = client.lrange(DEAD_LETTER_KEY, end - SEARCH_CHUNK + 1, end)
        found.extend(entry for raw in reversed(raws) if matches(entry := DeadLetter.from_json(raw), text))
        if len(raws) < SEARCH_CHUNK:
            break
        end -= SEARCH_CHUNK
    return found[offset : offset + limit], len(found) > offset + limit


def requeue_matching(client: redis.Redis, text: str, *, by: str) -> int:
    """Requeue every entry that `matches` the text; returns how many."""
    return requeue_where(client, lambda entry: matches(entry, text), by=by)


def list_entries(client: redis.Redis) -> list[DeadLetter]:
    return [entry for _, entry in _entries(client)]


def find_entry(client: redis.Redis, key: str) -> DeadLetter | None:
    """The entry with this id or task id (the newest, if a task died more than once)."""
    found = None
    for _, entry in _entries(client):
        if entry.matches(key):
            found = entry
    return found


def requeue_task(entry: DeadLetter) -> tuple[str, Task | None]:
    """The payload to queue again and its task: failure history cleared (a malformed payload
    goes back as it was, with no task)."""
    try:
        task = parse_task(entry.payload).fresh()
    except InvalidTask:
        return entry.payload, None
    return task.to_json(), task


def requeue(client: redis.Redis, keys: list[str] | None, *, by: str) -> int:
    """Move dead letters (all when `keys` is None) back to the queue; returns how many."""
    return requeue_where(client, lambda entry: keys is None or any(entry.matches(key) for key in keys), by=by)


def count_where(client: redis.Redis, wanted: Callable[[DeadLetter], bool]) -> int:
    """How many entries are wanted (one pass over the list, which DEAD_LETTERS_KEPT bounds)."""
    return sum(1 for _, entry in _entries(client) if wanted(entry))


def requeue_where(client: redis.Redis, wanted: Callable[[DeadLetter], bool], *, by: str) -> int:
    """One pass over the list: each wanted entry goes back to its priority's list, noted in its
    task's history as requeued by `by`."""
    moved = 0
    for raw, entry in _entries(client):
        if not wanted(entry):
            continue
        payload, task = requeue_task(entry)
        priority = task.priority if task is not None else NORMAL
        with client.pipeline(transaction=True) as pipe:
            pipe.lrem(DEAD_LETTER_KEY, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are
            push_task(pipe, payload, priority)
            if task is not None:
                queued = TaskStatus(state=QUEUED, task_id=task.task_id, at=utc_now_iso())
                pipe.hset(STATUS_KEY, task.pet_id, queued.to_json())
                requeued = history.note(task, history.REQUEUED, state=QUEUED, by=by, payload=payload)
                history.note_on(pipe, requeued, history.KEEP_AS_IS)
            removed = pipe.execute()[0]
        if not removed:  # another operator took it meanwhile: undo our push
            client.lrem(queue_key(priority), -1, payload)
        else:
            moved += 1
    return moved


def purge(client: redis.Redis) -> int:
    with client.pipeline(transaction=True) as pipe:
        pipe.llen(DEAD_LETTER_KEY)
        pipe.delete(DEAD_LETTER_KEY)
        count, _ = pipe.execute()
    return count
