"""consumer.py as a real process, against real Redis and a local stand-in for Wikipedia."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts.tasks import (
    DEAD_LETTER_KEY,
    DELAYED_KEY,
    QUEUE_KEYS,
    TASKS_KEY,
    build_task,
    heartbeat_key,
    processing_key,
)
from tests.support.processes import ROOT, Process, base_env, wait_until
from tests.support.servers import start_redis
from tests.support.tasks import PET_ID, push, result_files, wait_for_files
from tests.support.wikipedia import WIKIPEDIA_PREFIX, answer_slowly, serve_summary


@pytest.fixture
def processed(tmp_path) -> Path:
    return tmp_path / "processed_data"


def test_enriched_file_has_the_seed_format(start_consumer, redis_client, wikipedia, processed):
    serve_summary(wikipedia, "Cat")
    consumer = start_consumer("3")
    task = push(redis_client)

    [path] = wait_for_files(processed, 1)
    assert re.fullmatch(rf"{PET_ID}_Mishi_\d{{8}}_\d{{6}}\.json", path.name)
    document = json.loads(path.read_text())
    assert document["metadata"]["processed_by"] == "Consumer-3"
    assert document["metadata"]["task_id"] == task["task_id"]
    assert isinstance(document["metadata"]["processing_duration_seconds"], float)
    assert document["original_data"] == {
        "pet_id": PET_ID, "name": "Mishi", "species": "Cat", "age": 2, "owner": "Ana Garcia", "vaccinated": False,
    }  # fmt: skip
    wiki = document["enriched_info"]["wikipedia"]
    assert wiki["wikipedia_extract"].startswith("The cat is")
    assert wiki["wikipedia_url"] == "https://en.wikipedia.org/wiki/Cat"
    assert wiki["thumbnail"] == "https://upload.wikimedia.org/Cat.jpg"
    assert document["enriched_info"]["species_facts"]["lifespan"] == "12-18 years"
    tips = document["enriched_info"]["health_tips"]
    assert tips[0].startswith("⚠️ URGENT: This Cat needs vaccination!")
    assert "Adult Cat in prime age" in tips[1]
    assert "scratching posts" in tips[2]
    assert document["statistics"] == {
        "total_tips": 3,
        "vaccination_status": "Needs vaccination",
        "age_category": "Adult",
    }

    wait_until(lambda: redis_client.llen(processing_key("Consumer-3")) == 0, what="the task to be acknowledged")
    assert redis_client.llen(TASKS_KEY) == 0
    log = consumer.output()
    assert re.search(
        r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[Consumer-3\] \[INFO\] 👂 Waiting for tasks\.\.\.$", log, re.M
    )
    assert f"[Consumer-3] [INFO] Processing pet: Mishi (Cat) - ID: {PET_ID[:8]}" in log
    assert f"[Consumer-3] [SUCCESS] ✅ Enriched data saved to: {path.name}" in log
    assert re.search(r"\[SUCCESS\] .*Task processed in \d+\.\d\ds", log)


def test_wikipedia_request_uses_a_descriptive_user_agent_and_normalised_title(
    start_consumer, redis_client, wikipedia, processed
):
    serve_summary(wikipedia, "Guinea pig")
    start_consumer("1", WIKIPEDIA_USER_AGENT="PetAppTests/1.0 (tests@example.org)")
    push(redis_client, species="GUINEA   PIG")
    wait_for_files(processed, 1)
    [(request, response)] = wikipedia.log
    assert request.path == f"{WIKIPEDIA_PREFIX}/page/summary/Guinea_pig"
    assert request.headers["User-Agent"] == "PetAppTests/1.0 (tests@example.org)"
    assert response.status_code == 200


def test_title_with_unsafe_characters_is_url_encoded(start_consumer, redis_client, wikipedia, processed):
    start_consumer("1")
    push(redis_client, species="Cat/../../etc?x=1#y")
    wait_for_files(processed, 1)
    [(request, _)] = wikipedia.log
    raw_path = request.environ["REQUEST_URI"]  # as sent, before the server decodes it
    assert raw_path.startswith(f"{WIKIPEDIA_PREFIX}/page/summary/Cat%2F..%2F..%2Fetc%3Fx")
    assert "/" not in raw_path.removeprefix(f"{WIKIPEDIA_PREFIX}/page/summary/")
    assert "?" not in raw_path and "#" not in raw_path


@pytest.mark.parametrize(
    "answer,status",
    [
        ({"response": "not found", "status": 404}, "not_found"),
        (
            {
                "response": json.dumps({"type": "disambiguation", "title": "Cat"}),
                "status": 200,
                "content_type": "application/json",
            },
            "disambiguation",
        ),
    ],
    ids=["404", "disambiguation"],
)
def test_wikipedia_without_an_article_still_gives_a_file(
    start_consumer, redis_client, wikipedia, processed, answer, status
):
    serve_summary(wikipedia, "Cat", **answer)
    start_consumer("1")
    push(redis_client)
    [path] = wait_for_files(processed, 1)
    wiki = json.loads(path.read_text())["enriched_info"]["wikipedia"]
    assert wiki == {"wikipedia_extract": None, "wikipedia_url": None, "thumbnail": None, "status": status}


def test_summaries_are_cached_one_request_per_species_across_consumers(
    start_consumer, redis_client, wikipedia, processed
):
    answer_slowly(wikipedia, 0.3)  # long enough for all consumers to want the same species at once
    for consumer_id in "123":
        start_consumer(consumer_id)
    species = ["Cat", "Dog", "cat", "CAT", "Dog", "Hamster", "dog", "Cat", "Hamster"]
    for index, name in enumerate(species):
        push(redis_client, pet_id=f"{index:024x}", name=f"Pet{index}", species=name)
    wait_for_files(processed, len(species))
    requested = sorted(request.path.rsplit("/", 1)[-1] for request, _ in wikipedia.log)
    assert requested == ["Cat", "Dog", "Hamster"]


def test_seed_shaped_task_pushed_by_hand_is_processed(start_consumer, redis_client, wikipedia, processed):
    serve_summary(wikipedia, "Cat")
    start_consumer("2")
    seed_task = (
        '{"pet_id":"67698abc123def456789abcd","name":"Luna","species":"Cat",'
        '"age":3,"owner":"María García","vaccinated":true}'
    )
    redis_client.rpush(TASKS_KEY, seed_task)
    [path] = wait_for_files(processed, 1)
    assert path.name.startswith("67698abc123def456789abcd_Luna_")
    document = json.loads(path.read_text())
    assert document["original_data"]["owner"] == "María García"
    assert document["statistics"]["vaccination_status"] == "Up to date"
    assert document["metadata"]["task_id"].startswith("manual-")


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        '{"name": "NoId", "species": "Cat", "age": 1}',
        '{"pet_id": "x", "name": "A", "species": "Cat", "age": "old"}',
        "\xff",
    ],
)
def test_bad_task_is_dead_lettered_and_the_loop_goes_on(start_consumer, redis_client, wikipedia, processed, payload):
    serve_summary(wikipedia, "Cat")
    consumer = start_consumer("1")
    redis_client.rpush(TASKS_KEY, payload.encode("latin-1"))
    push(redis_client)
    wait_for_files(processed, 1)
    [dead] = wait_until(lambda: redis_client.lrange(DEAD_LETTER_KEY, 0, -1), what="a dead letter")
    entry = json.loads(dead)
    assert entry["error"].startswith("invalid task")
    assert entry["consumer"] == "Consumer-1"
    assert consumer.alive()
    assert "Invalid task sent to the dead-letter list" in consumer.output()


def test_file_names_are_safe_for_hostile_pet_names(start_consumer, redis_client, wikipedia, processed):
    start_consumer("1")
    push(redis_client, name="../../etc/passwd\x07 <b>Señor</b> Bigotes")
    [path] = wait_for_files(processed, 1)
    assert path.parent == processed
    assert re.fullmatch(rf"{PET_ID}_etcpasswd_bSeñorb_Bigotes_\d{{8}}_\d{{6}}\.json", path.name)


def test_two_tasks_for_one_pet_in_the_same_second_give_two_files(start_consumer, redis_client, wikipedia, processed):
    start_consumer("1")
    push(redis_client)
    push(redis_client, age=3)
    files = wait_for_files(processed, 2)
    assert len({json.loads(p.read_text())["metadata"]["task_id"] for p in files}) == 2


def test_sigterm_exits_zero_after_the_current_task(start_consumer, redis_client, wikipedia, processed):
    answer_slowly(wikipedia, 1.5)
    consumer = start_consumer("1", WIKIPEDIA_TIMEOUT_SECONDS="5")
    push(redis_client)
    wait_until(lambda: "Processing pet" in consumer.output(), what="the task to start")
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(timeout=10) == 0
    assert len(result_files(processed)) == 1
    assert redis_client.llen(processing_key("Consumer-1")) == 0
    assert "finishing the current task" in consumer.output()


def test_an_idle_consumer_stops_at_once_on_sigterm(start_consumer, redis_client):
    """Waiting for tasks it holds nothing, so it does not sit out its wait (here 30 s) first."""
    consumer = start_consumer("1", CONSUMER_POLL_SECONDS="30")
    time.sleep(0.3)  # well into its blocking wait
    asked = time.monotonic()
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(timeout=10) == 0
    assert time.monotonic() - asked < 5
    assert "while waiting for tasks: stopping" in consumer.output()
    assert redis_client.llen(processing_key("Consumer-1")) == 0
    assert not redis_client.exists(heartbeat_key("Consumer-1"))


def test_consumer_restarted_after_sigkill_requeues_what_it_held(start_consumer, redis_client, wikipedia, processed):
    answer_slowly(wikipedia, 2)
    consumer = start_consumer("1", WIKIPEDIA_TIMEOUT_SECONDS="5")
    push(redis_client)
    wait_until(lambda: "Processing pet" in consumer.output(), what="the task to start")
    consumer.signal(signal.SIGKILL)
    consumer.wait(timeout=5)
    assert redis_client.llen(processing_key("Consumer-1")) == 1 and result_files(processed) == []

    redis_client.delete("pets:wikipedia:summary:cat:lock")  # the killed holder cannot release it
    restarted = start_consumer("1", WIKIPEDIA_TIMEOUT_SECONDS="5")
    wait_for_files(processed, 1)
    assert "Requeued 1 task(s)" in restarted.output()
    wait_until(lambda: redis_client.llen(processing_key("Consumer-1")) == 0, what="the ack")


def test_consumer_survives_redis_restart(tmp_path, logs_dir, wikipedia, start_consumer):
    server = start_redis(tmp_path / "redis", logs_dir, "redis-restart")
    consumer = start_consumer("1", REDIS_URL=server.url)
    server.process.stop()
    wait_until(lambda: "Redis unavailable" in consumer.output(), what="the consumer to notice")
    server = start_redis(tmp_path / "redis", logs_dir, "redis-restart-2", port=server.port)
    try:
        push(server.client())
        wait_for_files(tmp_path / "processed_data", 1, timeout=40)
        assert consumer.alive()
        assert "Reconnected to Redis" in consumer.output()
    finally:
        server.process.stop()


def test_health_command_reports_the_heartbeat(start_consumer, redis_server):
    start_consumer("2")

    def health(consumer_id: str) -> subprocess.CompletedProcess:
        env = base_env(REDIS_URL=redis_server.url, CONSUMER_ID=consumer_id)
        return subprocess.run(
            [sys.executable, "consumer.py", "health"], cwd=ROOT, env=env, capture_output=True, text=True
        )

    assert health("2").returncode == 0
    assert health("9").returncode == 1


def test_the_scheduler_promotes_due_retries_and_takes_back_a_dead_consumers_tasks(redis_client, redis_server, tmp_path):
    """No consumer runs (scaled to zero): the scheduler alone keeps retries and orphans moving."""
    high = build_task(pet_id=PET_ID, name="Due", species="Cat", age=1, owner="Ana", vaccinated=False,
                      reason="created", priority="high").after_failure("WikipediaUnavailable: HTTP 503")  # fmt: skip
    redis_client.zadd(DELAYED_KEY, {high.to_json(): time.time() - 1})
    orphan = build_task(pet_id=PET_ID, name="Orphan", species="Cat", age=1, owner="Ana", vaccinated=False,
                        reason="created")  # fmt: skip
    redis_client.rpush(processing_key("Consumer-9"), orphan.to_json())  # Consumer-9 died: no heartbeat
    scheduler = Process("scheduler", [sys.executable, "consumer.py", "scheduler"],
                        base_env(REDIS_URL=redis_server.url), tmp_path)  # fmt: skip
    try:
        wait_until(lambda: redis_client.llen(QUEUE_KEYS["high"]) == 1, what="the due retry promoted")
        wait_until(lambda: redis_client.llen(TASKS_KEY) == 1, what="the orphan taken back")
        assert redis_client.zcard(DELAYED_KEY) == 0 and redis_client.llen(processing_key("Consumer-9")) == 0
    finally:
        scheduler.signal(signal.SIGTERM)
        assert scheduler.wait(timeout=10) == 0
    assert "Requeued 1 task(s) held by Consumer-9" in scheduler.output()
