"""The consumer's side of the Redis queue: every move of a task is one atomic Redis operation.

    pets:tasks:high ─┐
    pets:tasks ──────┼─LMOVE─► pets:processing:<consumer> ──┬─ done ──────► (removed; pets:done:<task_id>)
    pets:tasks:low ──┘                                      ├─ transient ─► pets:delayed (due time) ─┐
        ▲                                                   └─ permanent ─► pets:dead                │
        └──────────── promote_due() when the retry is due, to its priority's list ◄─────────────────┘

Idle, a consumer blocks on the wake list (contracts/tasks.py), then takes with one script.

A task leaves a processing list only in the same transaction that records where it went (and the
pet's enrichment state, contracts/task_status.py), so a crash at any point leaves it in exactly
one place. Lists of consumers whose heartbeat lapsed are put back on the queue by the others
(`reap_orphans`), who find them in the consumers set (contracts/tasks.py, CONSUMERS_KEY), never
by scanning a keyspace that holds a done marker per finished task.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis
from redis.typing import EncodableT

from contracts import history
from contracts.dead_letters import DEAD_LETTERS_KEPT, DeadLetter
from contracts.events import (
    EVENTS_KEY,
    EVENTS_MAX_LEN,
    TASK_CANCELLED,
    TASK_DEAD,
    TASK_DONE,
    TASK_RETRYING,
    add_event,
    event_fields,
)
from contracts.history import HISTORY_KEY, TASK_HISTORY_KEPT
from contracts.task_status import (
    DEAD,
    DONE,
    PROCESSING,
    RETRYING,
    STATUS_KEY,
    TaskStatus,
)
from contracts.tasks import (
    CANCELLED_KEY,
    CONSUMERS_KEY,
    DEAD_LETTER_KEY,
    DELAYED_KEY,
    HEARTBEAT_KEY_PREFIX,
    LOW,
    NORMAL,
    PRIORITIES,
    PROCESSING_KEY_PREFIX,
    WAKE_KEY,
    WAKE_TOKENS_KEPT,
    Task,
    done_key,
    heartbeat_key,
    processing_key,
    queue_key,
    utc_now_iso,
)
from infra.redis_scripts import redis_script
from worker.priorities import HIGH_FIRST

DONE_MARKER_SECONDS = 7 * 24 * 3600  # the default of CONSUMER_DONE_MARKER_SECONDS

# The scripts of the consumer's moves (infra/lua/): the lists come as KEYS high, normal, low (in
# contracts/tasks.py's PRIORITIES order, or in the order of a take), then the script's own.
PROMOTE_DUE = redis_script("promote_due", WAKE_TOKENS_KEPT=WAKE_TOKENS_KEPT)
TAKE_MANY = redis_script("take_many")
_NOTING = {"EVENTS_MAX_LEN": EVENTS_MAX_LEN, "TASK_CANCELLED": TASK_CANCELLED, **history.SCRIPT_CONSTANTS}
START_MANY = redis_script("start_many", **_NOTING)
COMMIT_MANY = redis_script("commit_many", **_NOTING)
COMPLETE_MANY = redis_script("complete_many", TASK_DONE=TASK_DONE, **_NOTING)
REQUEUE = redis_script("requeue", WAKE_TOKENS_KEPT=WAKE_TOKENS_KEPT, **history.SCRIPT_CONSTANTS)
SET_STATUS_IF_OWNER = redis_script("set_status_if_owner")
PRIORITY_LISTS = [queue_key(priority) for priority in PRIORITIES]


@dataclass(frozen=True)
class Finished:
    """A task whose result is written and recorded, on its way out of the processing list."""

    raw: bytes  # the payload as taken, to remove from the processing list
    task: Task
    file: str  # the result file's name, kept in the done marker
    result: dict | None  # its public summary for the live event (None: an earlier delivery's)


# What start() says of each task of a batch.
NEW, DONE_BEFORE, CANCELLED_BEFORE = 0, 1, 2


class TaskQueue:
    def __init__(
        self,
        client: redis.Redis,
        consumer_name: str,
        done_marker_seconds: int = DONE_MARKER_SECONDS,
        history_kept: int = TASK_HISTORY_KEPT,
    ) -> None:
        self.redis = client
        self.consumer_name = consumer_name
        self.processing_key = processing_key(consumer_name)
        self.done_marker_seconds = done_marker_seconds  # how long a finished task's marker is kept
        self.history_kept = history_kept  # TASK_HISTORY_KEPT (contracts/history.py)

    # -- taking and finishing --------------------------------------------------------------
    def take(self, timeout_seconds: float, limit: int = 1, order: Sequence[str] = HIGH_FIRST) -> list[bytes]:
        """Move up to `limit` tasks from the heads of the priority lists, in `order`
        (worker/priorities.py), into our processing list.

        What is there is taken at once; when all are empty it waits for a producer's wake token,
        up to `timeout_seconds` (an empty list then), and takes again.
        """
        keys = [queue_key(priority) for priority in order] + [self.processing_key, WAKE_KEY, CONSUMERS_KEY]
        taken = TAKE_MANY(self.redis, keys, [limit, self.consumer_name])
        if taken:
            return list(taken)
        if self.redis.blpop([WAKE_KEY], max(timeout_seconds, 0.01)) is None:
            return []
        return list(TAKE_MANY(self.redis, keys, [limit, self.consumer_name]))

    def heads(self) -> dict[str, bytes | None]:
        """The payload at the head of the normal and the low list (None: empty), one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.lindex(queue_key(NORMAL), 0)
            pipe.lindex(queue_key(LOW), 0)
            normal, low = pipe.execute()
        return {NORMAL: normal, LOW: low}

    def start(self, taken: list[tuple[bytes, Task]]) -> list[int]:
        """Start a batch, in one round trip; for each task NEW (marked processing, noted as taken),
        DONE_BEFORE (a redelivery of a finished task) or CANCELLED_BEFORE (cancelled while it
        waited: already out of our processing list, nothing to do)."""
        keys = [STATUS_KEY, self.processing_key, CANCELLED_KEY, EVENTS_KEY, HISTORY_KEY]
        keys += [done_key(task.task_id) for _, task in taken]
        values: list[EncodableT] = [self.history_kept]
        for raw, task in taken:
            pet_id, task_id, processing = self._status(task, PROCESSING)
            values += [pet_id, task_id, processing, raw, self._note(task, history.TAKEN, PROCESSING)]
        return [int(outcome) for outcome in START_MANY(self.redis, keys, values)]

    def commit(self, taken: list[tuple[bytes, Task]]) -> list[bool]:
        """The last look for a cancel before the tasks' files are written, in one round trip: for
        each, True if it was cancelled (out of our processing list, its state cancelled: write
        nothing); the others are marked as writing, too late to cancel from now on."""
        keys = [STATUS_KEY, self.processing_key, CANCELLED_KEY, EVENTS_KEY, HISTORY_KEY]
        values: list[EncodableT] = [self.history_kept, utc_now_iso(), self.consumer_name]
        for raw, task in taken:
            values += [raw, *self._status(task, PROCESSING, writing=True)]
        return [bool(cancelled) for cancelled in COMMIT_MANY(self.redis, keys, values)]

    def complete(self, finished: list[Finished]) -> None:
        """Record tasks as done (for redeliveries), drop them from our processing list, announce
        them (contracts/events.py) and note them in their history, atomically, in one round trip."""
        keys = [self.processing_key, STATUS_KEY, EVENTS_KEY, HISTORY_KEY]
        keys += [done_key(item.task.task_id) for item in finished]
        values: list[EncodableT] = [self.done_marker_seconds, self.history_kept]
        for item in finished:
            task = item.task
            event = {"pet_id": task.pet_id, "task_id": task.task_id, "result": item.result}
            values += [item.raw, item.file, *self._status(task, DONE), event_fields(TASK_DONE, event)["data"]]
            values.append(self._note(task, history.DONE, DONE, file=item.file))
        COMPLETE_MANY(self.redis, keys, values)

    def _note(self, task: Task, step: str, state: str | None, **details: object) -> str:
        return history.note(task, step, state=state, consumer=self.consumer_name, **details)

    def drop(self, raw: bytes) -> None:
        self.redis.lrem(self.processing_key, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are

    def skip_done(self, raw: bytes, task: Task) -> None:
        """A redelivery of a finished task: drop it, and put its pet's state back to done
        (start() marked it processing)."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.processing_key, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are
            self._record(pipe, task, DONE)
            pipe.execute()

    def retry_later(self, raw: bytes, failed: Task, delay_seconds: float) -> None:
        """Park the task (with its failure counted) in the delayed set until it is due again."""
        due = time.time() + delay_seconds
        payload = failed.to_json()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(DELAYED_KEY, {payload: due})
            pipe.lrem(self.processing_key, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are
            next_attempt_at = datetime.fromtimestamp(due, UTC).isoformat()
            self._record(pipe, failed, RETRYING, next_attempt_at=next_attempt_at)
            details = {"error": failed.last_error, "next_attempt_at": next_attempt_at, "payload": payload}
            note = self._note(failed, history.RETRYING, RETRYING, **details)
            history.note_on(pipe, note, self.history_kept)
            add_event(
                pipe,
                TASK_RETRYING,
                {"pet_id": failed.pet_id, "task_id": failed.task_id, "attempt": failed.attempts,
                 "next_attempt_at": next_attempt_at},
            )  # fmt: skip
            pipe.execute()

    def dead_letter(self, raw: bytes, entry: DeadLetter, task: Task | None = None) -> None:
        """Move the payload to the dead-letter list; `task`, when it could be parsed, is marked dead."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(DEAD_LETTER_KEY, entry.to_json())
            pipe.ltrim(DEAD_LETTER_KEY, -DEAD_LETTERS_KEPT, -1)
            pipe.lrem(self.processing_key, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are
            if task is not None:
                self._record(pipe, task, DEAD)
                note = self._note(task, history.DEAD, DEAD, error=task.last_error)
                history.note_on(pipe, note, self.history_kept)
                add_event(pipe, TASK_DEAD, {"pet_id": task.pet_id, "task_id": task.task_id, "attempts": task.attempts})
            pipe.execute()

    def _record(self, pipe: redis.client.Pipeline, task: Task, state: str, next_attempt_at: str | None = None) -> None:
        SET_STATUS_IF_OWNER.queue(pipe, [STATUS_KEY], self._status(task, state, next_attempt_at))

    def _status(
        self, task: Task, state: str, next_attempt_at: str | None = None, *, writing: bool = False
    ) -> tuple[str, str, str]:
        """SET_STATUS_IF_OWNER's values for this task entering `state`: pet id, task id, status entry."""
        status = TaskStatus(
            state=state,
            task_id=task.task_id,
            at=utc_now_iso(),
            attempt=task.attempts + (state in (PROCESSING, DONE)),  # attempts made, this one included
            consumer=self.consumer_name,
            next_attempt_at=next_attempt_at,
            error=task.last_error if state in (RETRYING, DEAD) else None,
            writing=writing or None,
        )
        return task.pet_id, task.task_id, status.to_json()

    def promote_due(self, limit: int = 100) -> float | None:
        """Requeue the retries that are due; seconds until the next one is (None: no retry waits)."""
        now = time.time()
        earliest = float(PROMOTE_DUE(self.redis, [DELAYED_KEY, *PRIORITY_LISTS, WAKE_KEY], [now, limit]))
        return None if earliest < 0 else max(0.0, earliest - now)

    # -- recovery --------------------------------------------------------------------------
    def requeue_held(self) -> int:
        """Put what this consumer held when it last stopped back at the head of its list."""
        return self._requeue_list(self.consumer_name, f"{self.consumer_name}, at its start")

    def reap_orphans(self) -> dict[str, int]:
        """Requeue the tasks held by consumers whose heartbeat has lapsed; {consumer: count}.
        Two round trips, whatever else Redis holds: the consumers set, then their heartbeats."""
        members = cast("set[bytes]", self.redis.smembers(CONSUMERS_KEY))
        others = sorted({name.decode() for name in members} - {self.consumer_name})
        with self.redis.pipeline(transaction=False) as pipe:
            for name in others:
                pipe.exists(heartbeat_key(name))
            beating = pipe.execute()
        reaped = {}
        for owner in (name for name, alive in zip(others, beating, strict=True) if not alive):
            count = self._requeue_list(owner, f"{self.consumer_name}: {owner}'s heartbeat lapsed")
            if count:
                reaped[owner] = count
        return reaped

    def enlist_unregistered(self) -> int:
        """Add to the consumers set the processing lists and heartbeats of consumers that never
        joined it (of a version before the set, running or crashed): a scan of the keyspace, once
        at a consumer's start; how many were added."""
        found = set()
        for prefix in (PROCESSING_KEY_PREFIX, HEARTBEAT_KEY_PREFIX):
            for key in self.redis.scan_iter(match=f"{prefix}*", count=1000):
                found.add(key.decode()[len(prefix) :])
        return int(self.redis.sadd(CONSUMERS_KEY, *found)) if found else 0

    def _requeue_list(self, owner: str, by: str) -> int:
        keys = [processing_key(owner), *PRIORITY_LISTS, WAKE_KEY, HISTORY_KEY, heartbeat_key(owner), CONSUMERS_KEY]
        return int(REQUEUE(self.redis, keys, [utc_now_iso(), by, owner]))

    # -- liveness --------------------------------------------------------------------------
    def beat(self, ttl_seconds: float) -> None:
        alive = {"pid": os.getpid(), "host": socket.gethostname(), "at": time.time()}
        with self.redis.pipeline(transaction=True) as pipe:  # never a heartbeat outside the set
            pipe.set(heartbeat_key(self.consumer_name), json.dumps(alive), px=int(ttl_seconds * 1000))
            pipe.sadd(CONSUMERS_KEY, self.consumer_name)
            pipe.execute()

    def clear_heartbeat(self) -> None:
        self.redis.delete(heartbeat_key(self.consumer_name))
