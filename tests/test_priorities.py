"""Priorities with a real consumer process: high first, and a bound on how long the others wait."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from bson import ObjectId

from contracts.tasks import HIGH, LOW, NORMAL, QUEUE_KEYS, build_task, push_task
from tests.support.processes import wait_until
from tests.support.tasks import wait_for_files
from tests.support.wikipedia import serve_summary


@pytest.fixture
def processed(tmp_path) -> Path:
    return tmp_path / "processed_data"  # where start_consumer's consumers write


def queue_tasks(redis_client, priority: str, count: int, name: str) -> None:
    with redis_client.pipeline(transaction=False) as pipe:
        for number in range(count):
            task = build_task(pet_id=str(ObjectId()), name=f"{name}{number}", species="Cat", age=3, owner="Ana",
                              vaccinated=True, reason="created", priority=priority)  # fmt: skip
            push_task(pipe, task.to_json(), priority)
        pipe.execute()


def documents(files) -> list[dict]:
    loaded = [json.loads(path.read_text()) for path in files]
    return sorted(loaded, key=lambda document: document["metadata"]["processed_at"])


def test_twenty_high_tasks_queued_behind_four_hundred_others_finish_first(
    start_consumer, redis_client, wikipedia, processed
):
    serve_summary(wikipedia, "Cat")
    queue_tasks(redis_client, LOW, 200, "Low")
    queue_tasks(redis_client, NORMAL, 200, "Normal")
    queue_tasks(redis_client, HIGH, 20, "High")
    start_consumer("1")
    order = [document["original_data"]["name"] for document in documents(wait_for_files(processed, 420, timeout=60))]
    assert all(name.startswith("High") for name in order[:20]), order[:25]
    print(f"\nfirst 25 processed: {order[:25]}")


def test_a_low_task_is_taken_within_the_bound_under_a_steady_stream_of_high_ones(
    start_consumer, redis_client, wikipedia, processed
):
    serve_summary(wikipedia, "Cat")
    stop = threading.Event()

    def keep_high_tasks_waiting() -> None:
        while not stop.is_set():
            if redis_client.llen(QUEUE_KEYS[HIGH]) < 100:
                queue_tasks(redis_client, HIGH, 100, "High")
            time.sleep(0.02)

    queue_tasks(redis_client, HIGH, 100, "High")
    start_consumer("1", CONSUMER_PRIORITY_MAX_WAIT_SECONDS="1", CONSUMER_BATCH_MAX="5")
    pusher = threading.Thread(target=keep_high_tasks_waiting)
    pusher.start()
    try:
        wait_until(lambda: len(list(processed.glob("*High*.json"))) > 50, what="high tasks flowing")
        queue_tasks(redis_client, LOW, 1, "Low")
        low = wait_until(lambda: list(processed.glob("*_Low0_*.json")), timeout=15, what="the low task")
        assert redis_client.llen(QUEUE_KEYS[HIGH]) > 0  # high tasks were still waiting when it ran
    finally:
        stop.set()
        pusher.join()
    metadata = json.loads(low[0].read_text())["metadata"]
    waited = datetime.fromisoformat(metadata["processed_at"]) - datetime.fromisoformat(metadata["enqueued_at"])
    print(f"\nthe low task waited {waited.total_seconds():.2f} s behind a steady stream of high ones (bound 1.25 s)")
    assert waited.total_seconds() < 1 + 0.25 + 1.5  # the bound, plus a batch and a slow machine's slack
