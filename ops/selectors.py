"""What the operations panel shows, read from Redis: a bounded amount of work per view.

Consumers (one heartbeat and one processing list each: a handful), the queue's counts, the first
delayed tasks, one page of dead letters and the newest audit entries. Nothing reads a whole list.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import redis

from contracts.dead_letters import DeadLetter
from contracts.task_status import STATUS_KEY, TaskStatus
from contracts.tasks import DELAYED_KEY, HEARTBEAT_KEY_PREFIX, InvalidTask, Task, parse_task, processing_key
from queue_tools import audit, dead_letter_ops
from queue_tools.state import oldest_queued_age_seconds, queue_counts

DELAYED_SHOWN = 20
HELD_SHOWN = 50  # a consumer holds one batch: at most CONSUMER_BATCH_MAX tasks


@dataclass(frozen=True)
class HeldTask:
    task: Task | None  # None: a payload that is not a task (it will be dead-lettered)
    seconds: float | None  # since the consumer started on it, when its state says


@dataclass(frozen=True)
class ConsumerView:
    name: str
    host: str
    pid: int | None
    heartbeat_age: float | None
    held: list[HeldTask]


@dataclass(frozen=True)
class DelayedTask:
    task: Task | None
    due: datetime


@dataclass(frozen=True)
class PanelState:
    counts: dict
    oldest_age: float
    consumers: list[ConsumerView]
    delayed: list[DelayedTask]


@dataclass(frozen=True)
class DeadLetterPage:
    entries: list[DeadLetter]
    total: int
    page: int
    has_next: bool
    search: str


def _parse(raw: bytes | str) -> Task | None:
    try:
        return parse_task(raw)
    except InvalidTask:
        return None


def _since(status_json: bytes | str | None, task: Task | None, now: datetime) -> float | None:
    status = TaskStatus.from_json(status_json) if status_json else None
    if task is None or status is None or status.task_id != task.task_id or status.state != "processing":
        return None
    try:
        return max(0.0, (now - datetime.fromisoformat(status.at)).total_seconds())
    except ValueError:
        return None


def consumers(client: redis.Redis, names: list[str]) -> list[ConsumerView]:
    """Each live consumer (by heartbeat) with the tasks it holds and for how long."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(HEARTBEAT_KEY_PREFIX + name)
        pipe.lrange(processing_key(name), 0, HELD_SHOWN - 1)
    replies = pipe.execute()
    held_by_name = {name: [_parse(raw) for raw in replies[2 * index + 1]] for index, name in enumerate(names)}
    pet_ids = sorted({task.pet_id for tasks in held_by_name.values() for task in tasks if task})
    by_pet = dict(zip(pet_ids, client.hmget(STATUS_KEY, pet_ids), strict=True)) if pet_ids else {}  # one read
    now, wall = datetime.now(UTC), time.time()
    views = []
    for index, name in enumerate(names):
        try:
            beat = json.loads(replies[2 * index]) if replies[2 * index] else {}
        except ValueError:
            beat = {}
        tasks = held_by_name[name]
        held = [HeldTask(task, _since(by_pet.get(task.pet_id) if task else None, task, now)) for task in tasks]
        at = beat.get("at")
        views.append(
            ConsumerView(
                name=name,
                host=str(beat.get("host", "?")),
                pid=beat.get("pid") if isinstance(beat.get("pid"), int) else None,
                heartbeat_age=max(0.0, wall - at) if isinstance(at, int | float) else None,
                held=held,
            )
        )
    return views


def panel_state(client: redis.Redis) -> PanelState:
    counts = queue_counts(client)
    waiting = cast("list[tuple[bytes, float]]", client.zrange(DELAYED_KEY, 0, DELAYED_SHOWN - 1, withscores=True))
    delayed = [DelayedTask(_parse(raw), datetime.fromtimestamp(score, UTC)) for raw, score in waiting]
    return PanelState(
        counts=counts,
        oldest_age=oldest_queued_age_seconds(client),
        consumers=consumers(client, counts["live_consumers"]),
        delayed=delayed,
    )


def dead_letter_page(client: redis.Redis, *, page: int, per_page: int, search: str) -> DeadLetterPage:
    offset = (page - 1) * per_page
    total = dead_letter_ops.count(client)
    if search:
        entries, has_next = dead_letter_ops.search(client, search, offset=offset, limit=per_page)
    else:
        entries = dead_letter_ops.page(client, offset=offset, limit=per_page)
        has_next = offset + per_page < total
    return DeadLetterPage(entries=entries, total=total, page=page, has_next=has_next, search=search)


def recent_actions(client: redis.Redis) -> list[audit.AuditEntry]:
    return audit.recent(client)
