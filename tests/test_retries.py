"""Fault injection on Wikipedia and the disk: retries with backoff, Retry-After, dead letters.

Real consumer processes, real Redis, a local HTTP server misbehaving on purpose. Each test prints
its figures (requests, attempts, delays, dead letters).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from werkzeug import Response

from contracts.tasks import DEAD_LETTER_KEY, DELAYED_KEY, TASKS_KEY, processing_key
from tests.support.processes import ROOT, base_env, wait_until
from tests.support.tasks import push, result_files, wait_for_files
from tests.support.wikipedia import WIKIPEDIA_PREFIX, summary_json

CAT_PATH = f"{WIKIPEDIA_PREFIX}/page/summary/Cat"


class ScriptedWikipedia:
    """Answers the n-th request with the n-th scripted reply (the last one repeats); times them."""

    def __init__(self, replies: list) -> None:
        self.replies = replies
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request):
        with self._lock:
            self.times.append(time.monotonic())
            reply = self.replies[min(len(self.times), len(self.replies)) - 1]
        if callable(reply):
            return reply()
        if reply == 200:
            return Response(json.dumps(summary_json("Cat")), content_type="application/json")
        status, headers = reply if isinstance(reply, tuple) else (reply, {})
        return Response("error", status=status, headers=headers)

    def gaps(self) -> list[float]:
        return [round(b - a, 2) for a, b in zip(self.times, self.times[1:], strict=False)]


def dead_letters(redis_client) -> list[dict]:
    return [json.loads(raw) for raw in redis_client.lrange(DEAD_LETTER_KEY, 0, -1)]


def assert_queue_empty(redis_client, consumer_name: str = "Consumer-1") -> None:
    assert redis_client.llen(TASKS_KEY) == 0
    assert redis_client.zcard(DELAYED_KEY) == 0
    assert redis_client.llen(processing_key(consumer_name)) == 0


def test_500_twice_then_200_is_retried_with_growing_delays(start_consumer, redis_client, wikipedia, tmp_path):
    script = ScriptedWikipedia([500, 502, 200])
    wikipedia.expect_request(CAT_PATH).respond_with_handler(script)
    consumer = start_consumer("1", TASK_RETRY_BASE_SECONDS="0.4")
    push(redis_client)
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    document = json.loads(path.read_text())
    print(f"\nrequests={len(script.times)} gaps={script.gaps()} attempt={document['metadata']['attempt']}")
    assert len(script.times) == 3
    assert document["metadata"]["attempt"] == 3
    assert document["enriched_info"]["wikipedia"]["status"] == "found"
    first_gap, second_gap = script.gaps()
    assert 0.2 <= first_gap and 0.4 <= second_gap  # base * 2**(n-1), jittered between 50% and 100%
    assert dead_letters(redis_client) == []
    wait_until(lambda: redis_client.llen(processing_key("Consumer-1")) == 0)
    assert_queue_empty(redis_client)
    assert consumer.output().count("failed (attempt") == 2


def test_429_retry_after_is_honoured_by_every_consumer(start_consumer, redis_client, wikipedia, tmp_path):
    def answer(request):
        with lock:
            times.append((time.monotonic(), request.path))
            first = len(times) == 1
        if first:
            return Response("slow down", status=429, headers={"Retry-After": "2"})
        title = request.path.rsplit("/", 1)[-1]
        return Response(json.dumps(summary_json(title)), content_type="application/json")

    times: list[tuple[float, str]] = []
    lock = threading.Lock()
    wikipedia.expect_request(re.compile(rf"{WIKIPEDIA_PREFIX}/page/summary/.*")).respond_with_handler(answer)
    start_consumer("1")
    start_consumer("2")
    push(redis_client, pet_id="a" * 24, species="Dog")
    wait_until(lambda: times, what="the 429")
    time.sleep(0.3)  # the 429 has been answered: from now on every consumer waits
    push(redis_client, pet_id="b" * 24, species="Cat")
    wait_for_files(tmp_path / "processed_data", 2, timeout=30)
    first_429 = times[0][0]
    later = [round(t - first_429, 2) for t, _ in times[1:]]
    print(f"\nrequests={len(times)} seconds after the 429: {later}")
    assert len(later) == 2 and all(gap >= 1.9 for gap in later), later  # nobody asked during the pause
    assert dead_letters(redis_client) == []


def test_always_500_goes_to_the_dead_letter_list_after_max_attempts(start_consumer, redis_client, wikipedia, tmp_path):
    script = ScriptedWikipedia([500])
    wikipedia.expect_request(CAT_PATH).respond_with_handler(script)
    start_consumer("1", TASK_MAX_ATTEMPTS="4", TASK_RETRY_BASE_SECONDS="0.1")
    task = push(redis_client)
    [entry] = wait_until(lambda: dead_letters(redis_client), timeout=20, what="a dead letter")
    print(f"\nrequests={len(script.times)} gaps={script.gaps()} dead={entry['attempts']} attempts")
    assert len(script.times) == 4
    assert entry["attempts"] == 4
    assert entry["task_id"] == task["task_id"] and entry["pet_id"] == task["pet_id"]
    assert entry["error"].startswith("WikipediaUnavailable: HTTP 500")
    assert entry["enqueued_at"] == task["enqueued_at"] and entry["failed_at"]
    assert json.loads(entry["payload"])["attempts"] == 4
    assert result_files(tmp_path / "processed_data") == []
    wait_until(lambda: redis_client.llen(processing_key("Consumer-1")) == 0)
    assert_queue_empty(redis_client)


def test_timeouts_are_retried(start_consumer, redis_client, wikipedia, tmp_path):
    released = threading.Event()

    def hang():
        released.wait(3)
        return Response(json.dumps(summary_json("Cat")), content_type="application/json")

    script = ScriptedWikipedia([hang, 200])
    wikipedia.expect_request(CAT_PATH).respond_with_handler(script)
    start_consumer("1", WIKIPEDIA_TIMEOUT_SECONDS="0.5")
    push(redis_client)
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    released.set()
    document = json.loads(path.read_text())
    print(f"\nrequests={len(script.times)} gaps={script.gaps()}")
    assert document["metadata"]["attempt"] == 2
    assert document["enriched_info"]["wikipedia"]["status"] == "found"


def test_an_unwritable_results_folder_is_retried_until_it_works(start_consumer, redis_client, wikipedia, tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the folder should be")
    processed: Path = blocker / "processed_data"
    consumer = start_consumer("1", PROCESSED_DIR=str(processed), TASK_RETRY_BASE_SECONDS="0.5")
    push(redis_client)
    wait_until(lambda: "failed (attempt 1 of" in consumer.output(), what="a failed write")
    assert redis_client.zcard(DELAYED_KEY) + redis_client.llen(TASKS_KEY) >= 1
    blocker.unlink()  # the operator frees the disk
    [path] = wait_for_files(processed, 1, timeout=20)
    assert json.loads(path.read_text())["metadata"]["attempt"] >= 2
    assert dead_letters(redis_client) == []


def test_dead_letters_can_be_listed_shown_requeued_and_purged(start_consumer, redis_client, wikipedia, tmp_path):
    script = ScriptedWikipedia([500, 500, 200])
    wikipedia.expect_request(CAT_PATH).respond_with_handler(script)
    start_consumer("1", TASK_MAX_ATTEMPTS="2", TASK_RETRY_BASE_SECONDS="0.1")
    push(redis_client)
    redis_client.rpush(TASKS_KEY, "garbage")
    wait_until(lambda: len(dead_letters(redis_client)) == 2, what="two dead letters")

    env = base_env(REDIS_URL=f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "consumer.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    listing = cli("dead", "list")
    assert listing.returncode == 0 and "2 dead letter(s)" in listing.stdout
    entries = dead_letters(redis_client)
    task_entry = next(e for e in entries if e["task_id"])
    garbage_entry = next(e for e in entries if not e["task_id"])
    shown = cli("dead", "show", task_entry["id"])
    assert json.loads(shown.stdout)["error"].startswith("WikipediaUnavailable")
    assert cli("dead", "show", "nope").returncode == 1

    status = json.loads(cli("status").stdout)
    assert status["dead"] == 2 and status["queued"] == 0

    requeued = cli("dead", "requeue", task_entry["id"])
    assert requeued.returncode == 0 and "requeued 1 task(s)" in requeued.stdout
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    assert json.loads(path.read_text())["metadata"]["attempt"] == 1  # history cleared on requeue
    assert [e["id"] for e in dead_letters(redis_client)] == [garbage_entry["id"]]

    assert cli("dead", "purge").returncode == 2  # refuses without --yes
    purged = cli("dead", "purge", "--yes")
    assert "deleted 1 dead letter(s)" in purged.stdout
    assert dead_letters(redis_client) == []
