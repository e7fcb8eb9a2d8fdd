"""The fault-injection suite: real processes, real signals, real server restarts.

Every pet created must end with exactly one enriched file: none missing, none duplicated.
Each test prints its figures.
"""

from __future__ import annotations

import json
import random
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug import Response

from tests.cluster import Cluster
from tests.support.api import Api
from tests.support.processes import stop_all, wait_until
from tests.support.servers import start_redis, start_sentinel
from tests.support.wikipedia import WIKIPEDIA_PREFIX, answer_slowly, summary_json

pytestmark = pytest.mark.faults

SPECIES = ["Cat", "Dog", "Rabbit", "Hamster", "Parrot", "Turtle", "Horse", "Ferret", "Guinea pig", "Fish"]


@pytest.fixture
def cluster(tmp_path, wikipedia):
    logs = tmp_path / "logs"
    logs.mkdir()
    built = Cluster(
        tmp_path,
        logs,
        wikipedia.url_for(WIKIPEDIA_PREFIX),
        WIKIPEDIA_CACHE_SECONDS="0",  # every task asks Wikipedia, so every task takes a while
        WIKIPEDIA_MAX_REQUESTS_PER_SECOND="1000",
        CONSUMER_HEARTBEAT_TTL_SECONDS="1.5",
        CONSUMER_REAP_INTERVAL_SECONDS="0.3",
        TASK_RETRY_BASE_SECONDS="0.2",
        TASK_MAX_ATTEMPTS="8",
    )
    yield built
    built.stop_all()


def pet(i: int) -> dict:
    return {"name": f"Pet {i}", "species": SPECIES[i % len(SPECIES)], "age": i % 16, "owner": f"Owner {i}"}


def report(cluster: Cluster, created: list[str], **figures) -> tuple[list[str], list[str]]:
    files = cluster.files_by_pet()
    missing = [pet_id for pet_id in created if pet_id not in files]
    duplicated = [pet_id for pet_id, paths in files.items() if len(paths) > 1]
    logs = cluster.consumer_logs()
    figures |= {
        "pets": len(created),
        "files": sum(len(paths) for paths in files.values()),
        "missing": len(missing),
        "duplicates": len(duplicated),
        "task_retries": len(re.findall(r"failed \(attempt \d+ of", logs)),
        "redis_reconnects": logs.count("Reconnected to Redis"),
        "redeliveries_skipped": logs.count("already processed") + logs.count("by an earlier delivery"),
        "requeued_on_restart": sum(int(n) for n in re.findall(r"Requeued (\d+) task\(s\) left unfinished", logs)),
        "reaped": sum(int(n) for n in re.findall(r"Requeued (\d+) task\(s\) held by", logs)),
    }
    print("\n" + "  ".join(f"{key}={value}" for key, value in figures.items()))
    return missing, duplicated


def wait_for_every_pet(cluster: Cluster, created: list[str], timeout: float = 120) -> None:
    wait_until(lambda: all(pet_id in cluster.files_by_pet() for pet_id in created), timeout=timeout, interval=0.5)
    time.sleep(1.5)  # any duplicate still on its way has time to show up


def test_sigkill_consumers_at_random_while_pets_are_created(cluster, wikipedia):
    answer_slowly(wikipedia, 0.15)  # consumers are busy most of the time: kills land mid-task
    api = cluster.start_everything(consumers="123")

    kills = 0
    done_creating = threading.Event()
    rng = random.Random(20261129)

    def chaos() -> None:
        nonlocal kills
        while not done_creating.is_set() or kills < 20:
            time.sleep(rng.uniform(0.2, 0.6))
            victim = rng.choice("123")
            cluster.consumers[victim].signal(signal.SIGKILL)
            cluster.consumers[victim].wait(timeout=5)
            kills += 1
            if rng.random() < 0.5:
                time.sleep(2.0)  # long enough for its heartbeat to lapse: the others reap its tasks
            cluster.start_consumer(victim, wait=False)

    killer = threading.Thread(target=chaos)
    killer.start()
    responses = create_under_load(api, 220, 0.04)
    done_creating.set()
    killer.join()
    assert [r.status_code for r in responses] == [201] * 220
    created = [r.json()["pet"]["id"] for r in responses]

    wait_for_every_pet(cluster, created)
    missing, duplicated = report(cluster, created, kills=kills)
    assert kills >= 20
    assert missing == [] and duplicated == []


def test_a_dead_consumers_task_is_recovered_within_30s_by_default(tmp_path, wikipedia):
    hang = threading.Event()
    calls = []

    def answer(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            hang.wait(10)  # the first consumer dies while waiting here
        return Response(json.dumps(summary_json("Cat")), content_type="application/json")

    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_handler(answer)
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(tmp_path, logs, wikipedia.url_for(WIKIPEDIA_PREFIX))  # default heartbeat and reaper
    try:
        cluster.start_redis()
        cluster.start_mongo()  # consumers record their results there
        doomed = cluster.start_consumer("1")
        client = cluster.redis.client()
        client.rpush("pets:tasks", json.dumps({**pet(1), "species": "Cat", "pet_id": "a" * 24, "vaccinated": False}))
        wait_until(lambda: calls, what="the first consumer to start the task")
        doomed.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        cluster.start_consumer("2")
        wait_until(lambda: cluster.files_by_pet(), timeout=35, interval=0.2, what="the recovered task")
        recovered_after = time.monotonic() - killed_at
        hang.set()
        [document] = [json.loads(p.read_text()) for paths in cluster.files_by_pet().values() for p in paths]
        print(f"\nrecovered after {recovered_after:.1f}s by {document['metadata']['processed_by']}")
        assert recovered_after < 30
        assert document["metadata"]["processed_by"] == "Consumer-2"
    finally:
        hang.set()
        cluster.stop_all()


def test_a_slow_task_is_never_taken_from_a_live_consumer(cluster, wikipedia):
    calls = []

    def answer(request):
        calls.append(time.monotonic())
        time.sleep(4)  # more than twice the heartbeat TTL of the cluster fixture
        return Response(json.dumps(summary_json("Cat")), content_type="application/json")

    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_handler(answer)
    cluster.consumer_env["WIKIPEDIA_TIMEOUT_SECONDS"] = "8"
    cluster.start_redis()
    cluster.start_mongo()  # consumers record their results there
    cluster.start_consumer("1")
    cluster.start_consumer("2")
    cluster.redis.client().rpush(
        "pets:tasks", json.dumps({**pet(1), "species": "Cat", "pet_id": "b" * 24, "vaccinated": True})
    )
    wait_until(lambda: cluster.files_by_pet(), timeout=15)
    time.sleep(1)
    assert len(calls) == 1
    assert "heartbeat lapsed" not in cluster.consumer_logs()
    assert sum(len(p) for p in cluster.files_by_pet().values()) == 1


def test_a_frozen_consumer_that_wakes_up_writes_no_second_file(cluster, wikipedia):
    """SIGSTOP a consumer mid-task: its heartbeat lapses, another one does the task; on SIGCONT the
    stale one finishes too, finds the file of the same task and leaves it as it is."""
    answer_slowly(wikipedia, 1)
    cluster.start_redis()
    cluster.start_mongo()  # consumers record their results there
    stale = cluster.start_consumer("1")
    cluster.redis.client().rpush("pets:tasks", json.dumps({**pet(1), "species": "Cat", "pet_id": "d" * 24}))
    wait_until(lambda: "Processing pet" in stale.output())
    stale.signal(signal.SIGSTOP)
    fresh = cluster.start_consumer("2")
    [[path]] = wait_until(lambda: list(cluster.files_by_pet().values()), timeout=20, what="the reaped task's file")
    first_content = path.read_bytes()
    stale.signal(signal.SIGCONT)
    wait_until(lambda: "Task processed" in stale.output(), what="the stale consumer to finish")
    print(f"\nfiles={sum(len(p) for p in cluster.files_by_pet().values())} written_by=Consumer-2")
    assert "by an earlier delivery" in stale.output()
    assert [len(paths) for paths in cluster.files_by_pet().values()] == [1]
    assert path.read_bytes() == first_content  # not overwritten
    assert "Enriched data saved" in fresh.output()


def test_second_sigterm_exits_at_once_and_the_task_is_recovered(cluster, wikipedia):
    answer_slowly(wikipedia, 3)
    cluster.consumer_env["WIKIPEDIA_TIMEOUT_SECONDS"] = "8"
    cluster.start_redis()
    cluster.start_mongo()  # consumers record their results there
    first = cluster.start_consumer("1")
    cluster.redis.client().rpush(
        "pets:tasks", json.dumps({**pet(1), "species": "Cat", "pet_id": "c" * 24, "vaccinated": True})
    )
    wait_until(lambda: "Processing pet" in first.output())
    first.signal(signal.SIGTERM)
    time.sleep(0.2)
    first.signal(signal.SIGTERM)
    started = time.monotonic()
    assert first.wait(timeout=5) == 1
    print(f"\nexited {time.monotonic() - started:.2f}s after the second SIGTERM")
    assert cluster.files_by_pet() == {}
    cluster.start_consumer("2")
    wait_until(lambda: cluster.files_by_pet(), timeout=20)
    [[path]] = cluster.files_by_pet().values()
    assert json.loads(path.read_text())["metadata"]["processed_by"] == "Consumer-2"


def create_under_load(api: Api, count: int, pause: float) -> list[requests.Response]:
    """POST `count` pets from 4 threads, one every `pause` seconds."""

    started = time.monotonic()

    def create(i: int):
        time.sleep(max(0.0, started + i * pause - time.monotonic()))
        return api.post("/api/pets/", json=pet(i))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(create, range(count)))


def test_redis_crash_and_restart_under_load_loses_nothing(cluster, wikipedia):
    answer_slowly(wikipedia, 0.05)
    api = cluster.start_everything(consumers="123")

    def crash_redis() -> None:
        time.sleep(2)
        cluster.stop_redis(signal.SIGKILL)  # no shutdown: only what the AOF holds survives
        time.sleep(3)
        cluster.start_redis()

    crasher = threading.Thread(target=crash_redis)
    crasher.start()
    responses = create_under_load(api, 150, 0.05)
    crasher.join()

    statuses = [r.status_code for r in responses]
    assert set(statuses) == {201}, statuses  # never a 500: Redis down only means task_queued false
    not_queued = sum(not r.json()["task_queued"] for r in responses)
    created = [r.json()["pet"]["id"] for r in responses]
    wait_for_every_pet(cluster, created, timeout=90)
    missing, duplicated = report(cluster, created, redis_restarts=1, created_while_redis_down=not_queued)
    assert not_queued > 0, "the outage should have hit some creates"
    assert missing == [] and duplicated == []


def test_a_redis_failover_under_load_loses_nothing(cluster, wikipedia):
    """A master, a replica and three Sentinels; every part uses the Sentinel URL. The master is
    killed while pets are created: the replica takes over, every part follows it, and every pet
    still gets exactly one file. (What only the old master had is redone: the outbox keeps a task
    until a replica has its delivery marker, and redelivered tasks write nothing twice.)"""
    answer_slowly(wikipedia, 0.02)
    cluster.start_redis()  # the master
    replica = start_redis(cluster.root / "replica", cluster.logs_dir, "cluster-replica",
                          extra=("--replicaof", "127.0.0.1", str(cluster.redis_port)))  # fmt: skip
    sentinels = [
        start_sentinel(
            cluster.root / f"sentinel-{n}", cluster.logs_dir, f"cluster-sentinel-{n}", cluster.redis_port, replica.port
        )  # fmt: skip
        for n in range(3)
    ]
    try:
        wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", what="the replica")
        wait_until(lambda: all(s.client().sentinel_slaves("mymaster") for s in sentinels),
                   what="the Sentinels to know the replica")  # fmt: skip
        cluster.sentinel_url = "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in sentinels) + "/mymaster/0"
        cluster.start_mongo()
        cluster.start_api_and_relay()
        for consumer_id in "123":
            cluster.start_consumer(consumer_id)
        api = Api(cluster.api.base_url)
        api.login()

        def kill_master() -> None:
            time.sleep(1.5)
            cluster.stop_redis(signal.SIGKILL)

        killer = threading.Thread(target=kill_master)
        killer.start()
        responses = create_under_load(api, 120, 0.05)
        killer.join()

        statuses = [r.status_code for r in responses]
        assert set(statuses) == {201}, statuses  # never a 500: during the failover, task_queued false
        wait_until(lambda: int(sentinels[0].client().sentinel_get_master_addr_by_name("mymaster")[1]) == replica.port,
                   timeout=30, what="the failover")  # fmt: skip
        created = [r.json()["pet"]["id"] for r in responses]
        not_queued = sum(not r.json()["task_queued"] for r in responses)
        wait_for_every_pet(cluster, created, timeout=90)
        missing, duplicated = report(cluster, created, failovers=1, created_during_failover=not_queued)
        assert missing == [] and duplicated == []
    finally:
        cluster.stop_all()  # first: stopping, the consumers still ask the Sentinels for Redis
        stop_all([s.process for s in sentinels] + [replica.process])


def test_database_restart_under_load_never_gives_a_500(cluster, wikipedia):
    answer_slowly(wikipedia, 0.02)
    api = cluster.start_everything(consumers="12")

    def restart_database() -> None:
        time.sleep(1.5)
        cluster.stop_mongo()
        time.sleep(3)
        cluster.start_mongo()

    restarter = threading.Thread(target=restart_database)
    restarter.start()
    responses = create_under_load(api, 120, 0.06)
    restarter.join()

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 503}, statuses
    assert 503 in statuses, "the outage should have hit some creates"
    for response in responses:
        if response.status_code == 503:
            assert response.json() == {"error": "Database unavailable, please retry shortly"}
    created = [r.json()["pet"]["id"] for r in responses if r.status_code == 201]
    # The API recovers by itself: a create after the restart works.
    created.append(api.create_pet(name="After the restart")["id"])

    wait_for_every_pet(cluster, created, timeout=60)
    stored = {str(doc["_id"]) for doc in pymongo_pets(cluster)}
    assert set(created) <= stored
    missing, duplicated = report(cluster, created, database_restarts=1, refused_with_503=statuses.count(503))
    assert missing == [] and duplicated == []


def pymongo_pets(cluster: Cluster) -> list[dict]:
    import pymongo

    client = pymongo.MongoClient(cluster.mongo_uri)
    try:
        return list(client.get_default_database()["pet"].find({}, {"_id": 1}))
    finally:
        client.close()
