"""Nothing grows without bound: 12,000 tasks through three real consumers, and every Redis
structure and MongoDB collection the system writes measured as they go, each within its bound.

300 pets are created through the API (each with an Idempotency-Key), then each is updated 39
times, its tasks pushed as the API pushes them: 12,000 tasks in all, past every bound (10,000
live events, 2,000 history tasks here) with room to spare. The consumers keep a
finished task's marker for 5 s here (7 days by default), and the history of the newest 2,000 tasks
(20,000 by default), so that their bounds show within the test.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from contracts.events import EVENTS_KEY, EVENTS_MAX_LEN
from contracts.history import ALL_INDEX, HISTORY_INDEX_PREFIX, HISTORY_KEY
from contracts.results import RESULTS_COLLECTION
from contracts.task_status import STATUS_KEY
from contracts.tasks import CANCELLED_KEY, DEAD_LETTER_KEY, DONE_KEY_PREFIX, NORMAL, TASKS_KEY, build_task, push_task
from tests.support.processes import ROOT, wait_until
from tests.support.wikipedia import serve_summary

pytestmark = pytest.mark.e2e

PETS = 300
UPDATES_PER_PET = 39  # with the creates: 300 * 40 = 12,000 tasks
DONE_MARKER_SECONDS = 5
HISTORY_KEPT = 2_000  # TASK_HISTORY_KEPT for the consumers: 20,000 by default
SPECIES = ["Cat", "Dog", "Rabbit", "Hamster", "Parrot"]


def sizes(redis_client, results) -> dict[str, int]:
    """Every structure the system writes that a run like this one fills."""
    return {
        "queued tasks": redis_client.llen(TASKS_KEY),
        "done markers": sum(1 for _ in redis_client.scan_iter(f"{DONE_KEY_PREFIX}*", count=1000)),
        "pet states": redis_client.hlen(STATUS_KEY),
        "live events": redis_client.xlen(EVENTS_KEY),
        "dead letters": redis_client.llen(DEAD_LETTER_KEY),
        "outbox markers": redis_client.zcard("pets:outbox:delivered-at"),
        "idempotency keys": sum(1 for _ in redis_client.scan_iter("pets:idempotency:*", count=1000)),
        "history tasks": redis_client.hlen(HISTORY_KEY),
        "history index keys": sum(1 for _ in redis_client.scan_iter(f"{HISTORY_INDEX_PREFIX}*", count=1000)),
        "cancelled ids": redis_client.zcard(CANCELLED_KEY),
        "Redis keys": redis_client.dbsize(),
        "Redis memory (KB)": redis_client.info("memory")["used_memory"] // 1024,
        "result records": results.count_documents({}),
    }


def test_twelve_thousand_tasks_leave_every_structure_within_its_bound(
    api, api_server, redis_client, pets_collection, start_consumer, wikipedia
):
    for species in SPECIES:
        serve_summary(wikipedia, species)
    results = pets_collection.database[RESULTS_COLLECTION]
    pets = []
    for number in range(PETS):
        body = {"name": f"Pet {number}", "species": SPECIES[number % 5], "age": 1, "owner": "Ana"}
        response = api.post("/api/pets/", json=body, headers={"Idempotency-Key": f"bounds-{number}"})
        assert response.status_code == 201, response.text
        pets.append(response.json()["pet"])
    with redis_client.pipeline(transaction=False) as pipe:
        for round_ in range(UPDATES_PER_PET):
            for pet in pets:
                task = build_task(pet_id=pet["id"], name=pet["name"], species=pet["species"], age=2 + round_,
                                  owner="Ana", vaccinated=False, reason="updated")  # fmt: skip
                push_task(pipe, task.to_json(), NORMAL)
        pipe.execute()
    total = PETS * (UPDATES_PER_PET + 1)
    assert redis_client.llen(TASKS_KEY) == total

    for consumer_id in ("1", "2", "3"):
        start_consumer(consumer_id, PROCESSED_DIR=str(api_server.processed_dir), TASK_HISTORY_KEPT=str(HISTORY_KEPT),
                       CONSUMER_DONE_MARKER_SECONDS=str(DONE_MARKER_SECONDS))  # fmt: skip
    samples = []
    while redis_client.llen(TASKS_KEY) or any(redis_client.llen(k) for k in redis_client.keys("pets:processing:*")):
        samples.append(sizes(redis_client, results))
        time.sleep(1)
    # A pet keeps its newest task's record; an older task finishing after it (rare: its batch was
    # 300 tasks ahead) leaves one more until the pet's next update.
    most = PETS + PETS // 50
    wait_until(lambda: results.count_documents({}) <= most, timeout=60, what="superseded records deleted")
    time.sleep(DONE_MARKER_SECONDS + 1)
    relay = dict(api_server.env, OUTBOX_GRACE_SECONDS="0", OUTBOX_MARKER_SECONDS="1")
    subprocess.run([sys.executable, "manage.py", "relay_outbox", "--once"], env=relay, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    final = sizes(redis_client, results)
    peak = {name: max([sample[name] for sample in samples] + [final[name]]) for name in final}
    print(f"\n{total} tasks through 3 consumers; sizes (peak during the run -> after):")
    for name in final:
        print(f"  {name:>20}: {peak[name]:>8} -> {final[name]}")

    files = len(list(api_server.processed_dir.glob("*.json")))
    assert files == total  # every task was processed: one file each
    assert PETS <= final["result records"] <= most  # one per pet: its newest task's
    assert results.count_documents({"age": UPDATES_PER_PET + 1}) == PETS  # every pet has its last update's
    assert final["done markers"] == 0 and peak["done markers"] < total  # they expire as the run goes
    assert peak["live events"] <= EVENTS_MAX_LEN + 1_000  # XADD MAXLEN ~ trims whole nodes
    assert peak["pet states"] <= PETS
    assert final["outbox markers"] == 0  # the relay cleared what it found and dropped the rest as old
    assert final["idempotency keys"] == PETS
    assert all(0 < redis_client.ttl(key) <= 24 * 3600 for key in redis_client.scan_iter("pets:idempotency:*"))
    assert final["dead letters"] == 0
    # Each task the consumers noted first trims the history to their TASK_HISTORY_KEPT, in every index
    assert peak["history tasks"] <= PETS + HISTORY_KEPT and final["history tasks"] == HISTORY_KEPT
    assert redis_client.zcard(ALL_INDEX) == HISTORY_KEPT
    # all, six states, five species, three consumers, and a pet and a name index per pet at most
    assert final["history index keys"] <= 1 + 6 + 5 + 3 + 2 * PETS
    assert final["cancelled ids"] == 0
