"""Task priorities (contracts/tasks.py, worker/broker.py, worker/priorities.py) against real Redis."""

from __future__ import annotations

import json
import threading
import time

import pytest

from contracts.tasks import (
    HIGH,
    LOW,
    NORMAL,
    QUEUE_KEYS,
    TASKS_KEY,
    WAKE_KEY,
    InvalidTask,
    build_task,
    parse_task,
    push_task,
)
from worker.broker import TaskQueue
from worker.priorities import HIGH_FIRST, PriorityAging


@pytest.fixture
def queue(redis_client) -> TaskQueue:
    return TaskQueue(redis_client, "Consumer-7")


def push(redis_client, priority: str, name: str = "Luna") -> str:
    task = build_task(pet_id="p1", name=name, species="Cat", age=3, owner="Ana", vaccinated=False,
                      reason="created", priority=priority)  # fmt: skip
    with redis_client.pipeline() as pipe:
        push_task(pipe, task.to_json(), priority)
        pipe.execute()
    return task.task_id


def names(raws: list[bytes]) -> list[str]:
    return [parse_task(raw).name for raw in raws]


def test_high_is_taken_before_normal_and_normal_before_low(redis_client, queue):
    push(redis_client, LOW, "low")
    push(redis_client, NORMAL, "normal")
    push(redis_client, HIGH, "high")
    assert names(queue.take(1, limit=10)) == ["high", "normal", "low"]
    assert not redis_client.exists(WAKE_KEY)  # all taken: no token left to wake anyone for nothing


def test_a_low_task_goes_first_once_it_has_waited_too_long_at_the_head_of_its_list(redis_client, queue):
    aging = PriorityAging(max_wait_seconds=2, check_seconds=0.5)
    push(redis_client, LOW, "low")
    taken_at = None
    for tick in range(40):  # a take every 0.1 s of a clock the test drives
        now = tick * 0.1
        push(redis_client, HIGH, "high")  # there is always a high task waiting
        if names(queue.take(1, limit=1, order=aging.order(queue.heads, now))) == ["low"]:
            taken_at = now
            break
    assert taken_at is not None and 2 <= taken_at <= 2 + 0.5 + 0.1


def test_high_tasks_behind_lower_ones_still_go_first(redis_client, queue):
    aging = PriorityAging(max_wait_seconds=10)
    for _ in range(5):
        push(redis_client, LOW, "low")
        push(redis_client, NORMAL, "normal")
    push(redis_client, HIGH, "high")
    first = queue.take(1, limit=1, order=aging.order(queue.heads, 0.0))
    assert names(first) == ["high"]
    assert aging.order(queue.heads, 0.1) == HIGH_FIRST  # not time to look again yet: no round trip


def test_the_normal_list_is_the_original_one_and_hand_pushed_tasks_are_normal(redis_client, queue):
    assert QUEUE_KEYS[NORMAL] == TASKS_KEY == "pets:tasks"
    seed = {"pet_id": "p1", "name": "Rex", "species": "Dog", "age": 2, "owner": "Ana", "vaccinated": True}
    redis_client.rpush(TASKS_KEY, json.dumps(seed))  # no wake token: found by a look, not a wake-up
    push(redis_client, LOW, "low")
    [raw] = queue.take(1, limit=1)
    assert parse_task(raw).priority == NORMAL and parse_task(raw).name == "Rex"


def test_a_normal_task_keeps_the_original_payload_shape():
    task = build_task(pet_id="p1", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=False, reason="x")
    assert "priority" not in json.loads(task.to_json())
    high = build_task(pet_id="p1", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=False, reason="x",
                      priority=HIGH)  # fmt: skip
    assert json.loads(high.to_json())["priority"] == HIGH and parse_task(high.to_json()).priority == HIGH


@pytest.mark.parametrize("priority", ["urgent", "", 1, None, ["high"]])
def test_an_unknown_priority_makes_the_payload_invalid(priority):
    seed = {"pet_id": "p1", "name": "Rex", "species": "Dog", "age": 2, "owner": "Ana", "priority": priority}
    with pytest.raises(InvalidTask, match="'priority' must be one of high, normal, low"):
        parse_task(json.dumps(seed))


def test_retries_and_requeues_keep_their_priority(redis_client, queue):
    push(redis_client, HIGH, "high")
    push(redis_client, LOW, "low")
    high_raw, low_raw = queue.take(1, limit=2)
    failed = parse_task(high_raw).after_failure("WikipediaUnavailable: HTTP 503")
    queue.retry_later(high_raw, failed, 0)
    assert queue.promote_due() is None
    assert redis_client.llen(QUEUE_KEYS[HIGH]) == 1 and redis_client.exists(WAKE_KEY)
    assert queue.requeue_held() == 1  # what the consumer still held: the low one
    assert redis_client.lrange(QUEUE_KEYS[LOW], 0, -1) == [low_raw]
    assert names(queue.take(1, limit=5)) == ["high", "low"]


def test_an_idle_consumer_wakes_when_a_task_is_pushed(redis_client, queue):
    threading.Timer(0.3, push, args=(redis_client, LOW, "late")).start()
    started = time.monotonic()
    batch = queue.take(5, limit=5, order=HIGH_FIRST)
    waited = time.monotonic() - started
    assert names(batch) == ["late"] and 0.25 < waited < 2


def test_an_idle_wait_ends_empty_after_its_timeout(queue):
    started = time.monotonic()
    assert queue.take(0.2, limit=5) == []
    assert time.monotonic() - started < 1.5
