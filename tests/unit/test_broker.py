"""Each pet's enrichment state (contracts/task_status.py), written by the queue moves themselves.

In process, against the session's real Redis: fast, and every move of worker/broker.py covered.
"""

from __future__ import annotations

import pytest

from contracts.dead_letters import DeadLetter
from contracts.task_status import STATUS_KEY, TaskStatus
from contracts.tasks import TASKS_KEY, build_task
from worker.broker import DONE_BEFORE, NEW, Finished, TaskQueue


@pytest.fixture
def queue(redis_client) -> TaskQueue:
    return TaskQueue(redis_client, "Consumer-7")


def new_task(pet_id: str = "p1"):
    return build_task(pet_id=pet_id, name="Luna", species="Cat", age=3, owner="Ana", vaccinated=False, reason="created")


def state(redis_client, pet_id: str = "p1") -> TaskStatus:
    status = TaskStatus.from_json(redis_client.hget(STATUS_KEY, pet_id))
    assert status is not None
    return status


def taken(redis_client, queue: TaskQueue, task) -> bytes:
    redis_client.rpush(TASKS_KEY, task.to_json())
    [raw] = queue.take(1)
    return raw


def test_a_task_goes_processing_then_done(redis_client, queue):
    task = new_task()
    raw = taken(redis_client, queue, task)
    assert queue.start([(raw, task)]) == [NEW]
    processing = state(redis_client)
    assert (processing.state, processing.task_id, processing.consumer, processing.attempt) == (
        "processing",
        task.task_id,
        "Consumer-7",
        1,
    )
    queue.complete([Finished(raw, task, "p1_Luna.json", None)])
    done = state(redis_client)
    assert done.state == "done" and done.final and done.attempt == 1


def test_a_redelivered_finished_task_leaves_the_state_done(redis_client, queue):
    task = new_task()
    queue.complete([Finished(taken(redis_client, queue, task), task, "p1_Luna.json", None)])
    raw = taken(redis_client, queue, task)  # delivered again
    assert queue.start([(raw, task)]) == [DONE_BEFORE]
    queue.skip_done(raw, task)
    assert state(redis_client).state == "done"
    assert redis_client.llen(queue.processing_key) == 0


def test_retrying_says_when_and_why_then_dead_says_why(redis_client, queue):
    task = new_task()
    raw = taken(redis_client, queue, task)
    failed = task.after_failure("WikipediaUnavailable: HTTP 503")
    queue.retry_later(raw, failed, 30)
    retrying = state(redis_client)
    assert retrying.state == "retrying" and retrying.attempt == 1 and retrying.error == "WikipediaUnavailable: HTTP 503"
    assert retrying.next_attempt_at is not None
    raw = taken(redis_client, queue, failed)
    final = failed.after_failure("WikipediaUnavailable: HTTP 503")
    queue.dead_letter(raw, DeadLetter.for_task(final, consumer="Consumer-7"), final)
    dead = state(redis_client)
    assert (dead.state, dead.attempt, dead.final) == ("dead", 2, True)


def test_an_older_task_finishing_late_does_not_hide_a_newer_one(redis_client, queue):
    old, new = new_task(), new_task()
    raw = taken(redis_client, queue, old)
    queue.start([(raw, old)])
    # The pet is updated meanwhile: the API queues a newer task and marks it queued.
    redis_client.hset(STATUS_KEY, "p1", TaskStatus(state="queued", task_id=new.task_id, at="now").to_json())
    queue.complete([Finished(raw, old, "p1_Luna.json", None)])
    current = state(redis_client)
    assert (current.state, current.task_id) == ("queued", new.task_id)


def test_unreadable_entries_are_ignored_not_raised(redis_client):
    assert TaskStatus.from_json(b"not json") is None
    assert TaskStatus.from_json(b'{"state": "done"}') is None  # no task id


def test_the_dead_letter_list_keeps_the_newest_entries(redis_client, queue, monkeypatch):
    from contracts.tasks import DEAD_LETTER_KEY
    from worker import broker

    monkeypatch.setattr(broker, "DEAD_LETTERS_KEPT", 3)
    for number in range(5):
        task = new_task(f"p{number}")
        queue.dead_letter(taken(redis_client, queue, task), DeadLetter.for_task(task, consumer="Consumer-7"), task)
    kept = [DeadLetter.from_json(raw).pet_id for raw in redis_client.lrange(DEAD_LETTER_KEY, 0, -1)]
    assert kept == ["p2", "p3", "p4"]


def scans(redis_client) -> int:
    return redis_client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)


def test_orphans_are_found_through_the_consumers_set_without_scanning_the_keyspace(redis_client, queue):
    """Redis holds a done marker per finished task (kept for days): the reaper and the counts read
    the consumers set, two round trips, instead of scanning them all."""
    from contracts.tasks import CONSUMERS_KEY, done_key
    from queue_tools.state import queue_counts

    redis_client.mset({done_key(f"t{number}"): "file.json" for number in range(5000)})
    dead = TaskQueue(redis_client, "Consumer-8")
    dead.beat(60)
    taken(redis_client, dead, new_task("p1"))  # Consumer-8 holds it, then dies: its heartbeat lapses
    redis_client.delete("pets:heartbeat:Consumer-8")
    queue.beat(60)
    assert redis_client.smembers(CONSUMERS_KEY) == {b"Consumer-7", b"Consumer-8"}
    before = scans(redis_client)
    counts = queue_counts(redis_client)
    assert counts["processing_by_consumer"] == {"Consumer-8": 1} and counts["live_consumers"] == ["Consumer-7"]
    assert queue.reap_orphans() == {"Consumer-8": 1}
    assert scans(redis_client) == before
    assert redis_client.llen(TASKS_KEY) == 1 and redis_client.smembers(CONSUMERS_KEY) == {b"Consumer-7"}
    assert queue.reap_orphans() == {}  # the dead one is gone from the set; the live one is never reaped


def test_a_consumer_of_a_version_before_the_set_is_enlisted_at_start_then_reaped(redis_client, queue):
    redis_client.rpush("pets:processing:Old-1", new_task().to_json())  # held by it when it crashed
    redis_client.set("pets:heartbeat:Old-2", "{}")  # still running
    assert queue.reap_orphans() == {}  # not in the set: unseen
    assert queue.enlist_unregistered() == 2
    assert queue.reap_orphans() == {"Old-1": 1}
    assert queue.enlist_unregistered() == 0
