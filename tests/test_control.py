"""Control over work in flight, through the real API and real consumers: cancel (queued, waiting
for a retry, running, a consumer killed right after), the task history and its search, retry and
bulk requeue of dead tasks, and who may do each."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest

from contracts.history import HISTORY_KEY
from contracts.results import RESULTS_COLLECTION
from contracts.task_status import STATUS_KEY, TaskStatus
from contracts.tasks import CANCELLED_KEY, DEAD_LETTER_KEY
from queue_tools.audit import AUDIT_KEY
from tests.support.api import Api, create_user
from tests.support.processes import ROOT, wait_until
from tests.support.tasks import result_files, wait_for_files
from tests.support.wikipedia import WIKIPEDIA_PREFIX, answer_slowly, serve_summary

pytestmark = pytest.mark.e2e


def state_of(redis_client, pet_id: str) -> TaskStatus | None:
    raw = redis_client.hget(STATUS_KEY, pet_id)
    return TaskStatus.from_json(raw) if raw else None


def steps(api: Api, task_id: str) -> list[str]:
    return [step["event"] for step in api.get(f"/api/tasks/{task_id}/").json()["events"]]


def user(api_server, *, viewer: bool = False, staff: bool = False) -> Api:
    """A logged-in client for a new account: plain, staff, or staff in the viewers group."""
    name, password = f"user-{uuid.uuid4().hex[:8]}", "a-long-password-1"
    create_user(api_server, name, password)
    if staff or viewer:
        code = (
            f"from django.contrib.auth.models import User; User.objects.filter(username={name!r}).update(is_staff=True)"
        )
        subprocess.run([sys.executable, "manage.py", "shell", "-c", code], env=api_server.env, cwd=ROOT, check=True)
    if viewer:
        subprocess.run([sys.executable, "manage.py", "viewer", name], env=api_server.env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
    client = Api(api_server.base_url)
    client.login(name, password)
    return client


def test_a_queued_task_cancelled_never_runs_and_its_history_says_who(api, api_server, redis_client, start_consumer,
                                                                      wikipedia):  # fmt: skip
    serve_summary(wikipedia, "Cat")
    pet = api.create_pet(name="Nube")
    response = api.post(f"/api/pets/{pet['id']}/cancel/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled" and body["message"] == "Enrichment cancelled"
    assert api.get(f"/api/pets/{pet['id']}/").json()["enrichment_status"] == "cancelled"
    again = api.post(f"/api/pets/{pet['id']}/cancel/")
    assert (again.status_code, again.json()["status"]) == (409, "cancelled_before")

    assert redis_client.llen("pets:tasks") == 0  # removed from its list
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    other = api.create_pet(name="Sol")
    wait_for_files(api_server.processed_dir, 1)
    time.sleep(0.5)
    assert [path.name.split("_")[0] for path in result_files(api_server.processed_dir)] == [other["id"]]
    assert state_of(redis_client, pet["id"]).state == "cancelled"
    history = api.get(f"/api/tasks/{body['task_id']}/").json()
    assert [step["event"] for step in history["events"]] == ["queued", "cancelled"]
    assert history["events"][1]["by"] == "admin" and history["state"] == "cancelled"


def test_a_task_cancelled_as_a_consumer_takes_it_is_dropped_by_that_consumer(api, api_server, redis_client,
                                                                               start_consumer, wikipedia):  # fmt: skip
    """The cancel finds the task no longer in its list (taken a moment ago, or pushed by hand with
    no history): the consumer drops it when it starts the batch, from the cancelled set."""
    from tests.support.tasks import push

    serve_summary(wikipedia, "Cat")
    task = push(redis_client, pet_id="c" * 24)
    redis_client.hset(STATUS_KEY, task["pet_id"], TaskStatus("queued", task["task_id"], "now").to_json())
    redis_client.zadd(CANCELLED_KEY, {task["task_id"]: time.time()})  # as the cancel script leaves it
    consumer = start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    wait_until(lambda: "was cancelled: dropped" in consumer.output(), what="the task dropped")
    assert state_of(redis_client, task["pet_id"]).state == "cancelled"
    assert [step["event"] for step in api.get(f"/api/tasks/{task['task_id']}/").json()["events"]] == ["dropped"]
    assert result_files(api_server.processed_dir) == []


def test_a_task_waiting_for_a_retry_is_cancelled(api, api_server, redis_client, start_consumer, wikipedia):
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("down", status=503)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), TASK_RETRY_BASE_SECONDS="1")
    pet = api.create_pet()
    wait_until(lambda: (state_of(redis_client, pet["id"]) or TaskStatus("", "", "")).state == "retrying")
    response = api.post(f"/api/pets/{pet['id']}/cancel/")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert redis_client.zcard("pets:delayed") == 0  # removed from the delayed set
    wikipedia.clear()
    serve_summary(wikipedia, "Cat")  # the cause is fixed: the retry would now succeed
    time.sleep(2.5)  # past when it was due
    assert result_files(api_server.processed_dir) == []
    assert state_of(redis_client, pet["id"]).state == "cancelled"


def test_a_running_task_cancelled_writes_no_file_and_no_record(api, api_server, redis_client, start_consumer,
                                                                wikipedia, pets_collection):  # fmt: skip
    answer_slowly(wikipedia, 1.5)  # the consumer is inside the task when the cancel comes
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), WIKIPEDIA_TIMEOUT_SECONDS="10")
    pet = api.create_pet()
    wait_until(lambda: (state_of(redis_client, pet["id"]) or TaskStatus("", "", "")).state == "processing")
    response = api.post(f"/api/pets/{pet['id']}/cancel/")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelling"
    wait_until(lambda: state_of(redis_client, pet["id"]).state == "cancelled", timeout=10)
    time.sleep(0.5)
    assert result_files(api_server.processed_dir) == []
    assert pets_collection.database[RESULTS_COLLECTION].count_documents({"pet_id": pet["id"]}) == 0
    assert not redis_client.keys("pets:processing:*") or all(
        redis_client.llen(key) == 0 for key in redis_client.keys("pets:processing:*")
    )
    assert steps(api, response.json()["task_id"])[-2:] == ["cancel_requested", "dropped"]


def test_a_consumer_killed_right_after_a_cancel_drops_the_task_when_it_comes_back(
    api, api_server, redis_client, start_consumer, wikipedia
):
    answer_slowly(wikipedia, 2)
    consumer = start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), WIKIPEDIA_TIMEOUT_SECONDS="10")
    pet = api.create_pet()
    wait_until(lambda: (state_of(redis_client, pet["id"]) or TaskStatus("", "", "")).state == "processing")
    assert api.post(f"/api/pets/{pet['id']}/cancel/").status_code == 202
    consumer.signal(signal.SIGKILL)
    consumer.wait(timeout=5)
    assert redis_client.llen("pets:processing:Consumer-1") == 1  # held, as a crash leaves it
    restarted = start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), WIKIPEDIA_TIMEOUT_SECONDS="10")
    wait_until(lambda: state_of(redis_client, pet["id"]).state == "cancelled", timeout=10)
    wait_until(lambda: "dropped" in restarted.output(), what="the requeued task dropped")
    assert redis_client.llen("pets:processing:Consumer-1") == 0
    assert result_files(api_server.processed_dir) == []
    history = api.get("/api/tasks/", params={"pet_id": pet["id"]}).json()["results"][0]
    assert [step["event"] for step in history["events"]][-3:] == ["cancel_requested", "requeued", "dropped"]
    assert history["events"][-2]["by"] == "Consumer-1, at its start"


def test_done_and_dead_tasks_are_not_cancelled(api, api_server, redis_client, start_consumer, wikipedia):
    serve_summary(wikipedia, "Cat")
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Dog").respond_with_data("no", status=400)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    done, dead = api.create_pet(species="Cat"), api.create_pet(species="Dog")
    wait_until(lambda: (state_of(redis_client, done["id"]) or TaskStatus("", "", "")).state == "done")
    wait_until(lambda: (state_of(redis_client, dead["id"]) or TaskStatus("", "", "")).state == "dead")
    before = {pet["id"]: redis_client.hget(STATUS_KEY, pet["id"]) for pet in (done, dead)}
    for pet, why in ((done, "done"), (dead, "dead")):
        response = api.post(f"/api/pets/{pet['id']}/cancel/")
        assert (response.status_code, response.json()["status"]) == (409, why), response.text
        assert "error" in response.json()
    assert {pet_id: redis_client.hget(STATUS_KEY, pet_id) for pet_id in before} == before
    assert redis_client.zcard(CANCELLED_KEY) == 0
    missing = api.post("/api/pets/000000000000000000000000/cancel/")
    assert (missing.status_code, missing.json()) == (404, {"error": "Pet not found"})


def test_deleting_a_pet_cancels_its_task(api, api_server, redis_client, start_consumer, wikipedia):
    serve_summary(wikipedia, "Cat")
    pet = api.create_pet()
    task_id = state_of(redis_client, pet["id"]).task_id
    assert api.delete(f"/api/pets/{pet['id']}/").status_code == 200
    assert redis_client.zscore(CANCELLED_KEY, task_id) is not None and redis_client.llen("pets:tasks") == 0
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    probe = api.create_pet(name="Probe")
    wait_for_files(api_server.processed_dir, 1)
    assert [path.name.split("_")[0] for path in result_files(api_server.processed_dir)] == [probe["id"]]
    assert api.get(f"/api/tasks/{task_id}/").json()["events"][1]["by"] == "admin (pet deleted)"


def test_who_may_cancel(api, api_server, redis_client):
    """The pet's creator and staff who may act; not another user, nor a viewer (403, nothing changed)."""
    creator, stranger, viewer = user(api_server), user(api_server), user(api_server, viewer=True)
    mine = creator.create_pet(name="Mine")
    for refused in (stranger, viewer):
        response = refused.post(f"/api/pets/{mine['id']}/cancel/")
        assert response.status_code == 403 and "error" in response.json(), response.text
    assert state_of(redis_client, mine["id"]).state == "queued"
    task_id = state_of(redis_client, mine["id"]).task_id
    for action in ("cancel", "retry"):
        assert viewer.post(f"/api/tasks/{task_id}/{action}/").status_code == 403
        assert creator.post(f"/api/tasks/{task_id}/{action}/").status_code == 403  # not staff
    assert viewer.post("/api/tasks/requeue-dead/", json={"species": "Cat", "dry_run": True}).status_code == 403
    assert viewer.get("/api/tasks/").status_code == 200  # a viewer reads the history
    assert creator.get("/api/tasks/").status_code == 403
    assert state_of(redis_client, mine["id"]).state == "queued"
    assert creator.post(f"/api/pets/{mine['id']}/cancel/").status_code == 200
    theirs = api.create_pet(name="Theirs")  # by admin: staff may cancel any pet's
    assert api.post(f"/api/pets/{theirs['id']}/cancel/").status_code == 200


def test_a_cancel_survives_a_redis_restart(tmp_path, logs_dir, wikipedia):
    """Redis with the compose file's append-only file: the cancel is on disk before it is answered."""
    from tests.cluster import Cluster

    serve_summary(wikipedia, "Cat")
    cluster = Cluster(tmp_path, logs_dir, wikipedia.url_for(WIKIPEDIA_PREFIX))
    try:
        cluster.start_redis()
        cluster.start_mongo()
        cluster.start_api_and_relay()
        api = Api(cluster.api.base_url)
        api.login()
        pet = api.create_pet()
        cancelled = api.post(f"/api/pets/{pet['id']}/cancel/")
        assert cancelled.status_code == 200
        cluster.stop_redis(signal.SIGKILL)
        cluster.start_redis()
        client = cluster.redis.client()
        assert client.zscore(CANCELLED_KEY, cancelled.json()["task_id"]) is not None
        assert client.llen("pets:tasks") == 0 and state_of(client, pet["id"]).state == "cancelled"
        cluster.start_consumer("1")
        probe = api.create_pet(name="Probe")  # queued behind the cancelled one
        wait_until(lambda: probe["id"] in cluster.files_by_pet(), timeout=30, what="the probe's file")
        assert pet["id"] not in cluster.files_by_pet()
    finally:
        cluster.stop_all()


def test_the_history_is_found_by_each_filter_a_page_at_a_time(api, api_server, redis_client, start_consumer,
                                                               wikipedia):  # fmt: skip
    serve_summary(wikipedia, "Cat")
    serve_summary(wikipedia, "Dog")
    start_consumer("2", PROCESSED_DIR=str(api_server.processed_dir))
    pets = [api.create_pet(name=f"Pet {n}", species="Cat" if n % 2 else "Dog") for n in range(12)]
    wait_for_files(api_server.processed_dir, 12)
    wait_until(lambda: all(state_of(redis_client, pet["id"]).state == "done" for pet in pets))
    middle = api.get("/api/tasks/", params={"pet_id": pets[6]["id"]}).json()["results"][0]["queued_at"]

    def found(**params) -> list[str]:
        response = api.get("/api/tasks/", params=params)
        assert response.status_code == 200, response.text
        return [entry["name"] for entry in response.json()["results"]]

    assert found(pet_id=pets[3]["id"]) == ["Pet 3"]
    assert found(name="  pet   5 ") == ["Pet 5"]  # any case, any spacing
    assert len(found(species="cat")) == 6 and set(found(species="CAT")) == {f"Pet {n}" for n in range(1, 12, 2)}
    assert len(found(state="done")) == 12 and found(state="queued") == []
    assert len(found(consumer="Consumer-2")) == 12 and found(consumer="Consumer-9") == []
    assert found(since=middle) == [f"Pet {n}" for n in range(11, 5, -1)]  # newest first
    assert found(until=middle, species="Dog") == ["Pet 6", "Pet 4", "Pet 2", "Pet 0"]

    seen, cursor = [], None
    while True:
        page = api.get("/api/tasks/", params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        seen += [entry["name"] for entry in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Pet {n}" for n in range(11, -1, -1)]

    backwards = {"since": "2026-12-07T10:00:00Z", "until": "2026-12-07T09:00:00Z"}
    for bad in ({"state": "sleeping"}, {"limit": 0}, {"limit": 101}, {"cursor": "nonsense"}, {"since": "yesterday"},
                backwards):  # fmt: skip
        response = api.get("/api/tasks/", params=bad)
        assert response.status_code == 400 and "error" in response.json(), (bad, response.text)
    unknown = api.get("/api/tasks/nope/")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "No task of that id in the history"})


def test_dead_tasks_are_retried_one_or_requeued_by_filter_with_a_confirmed_count(
    api, api_server, redis_client, start_consumer, wikipedia
):
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("down", status=503)
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Dog").respond_with_data("down", status=503)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), TASK_MAX_ATTEMPTS="1")
    cats = [api.create_pet(name=f"Cat {n}", species="Cat") for n in range(3)]
    dog = api.create_pet(name="Rex", species="Dog")
    wait_until(lambda: redis_client.llen(DEAD_LETTER_KEY) == 4, what="four dead letters")
    wikipedia.clear()
    serve_summary(wikipedia, "Cat")
    serve_summary(wikipedia, "Dog")

    dog_task = state_of(redis_client, dog["id"]).task_id
    assert api.post(f"/api/tasks/{dog_task}/cancel/").status_code == 409  # dead: nothing to cancel
    retried = api.post(f"/api/tasks/{dog_task}/retry/")
    assert retried.status_code == 200, retried.text
    wait_until(lambda: state_of(redis_client, dog["id"]).state == "done", what="the retried task done")
    again = api.post(f"/api/tasks/{dog_task}/retry/")
    assert again.status_code == 409 and "error" in again.json()  # done now: only a dead task is retried

    assert api.post("/api/tasks/requeue-dead/", json={}).status_code == 400  # would match every dead task
    count = api.post("/api/tasks/requeue-dead/", json={"species": "cat", "dry_run": True}).json()
    assert count == {"count": 3, "requeued": 0} and redis_client.llen(DEAD_LETTER_KEY) == 3
    assert api.post("/api/tasks/requeue-dead/", json={"species": "cat"}).status_code == 400  # no confirmation
    stale = api.post("/api/tasks/requeue-dead/", json={"species": "cat", "expected_count": 2})
    assert (stale.status_code, stale.json()["count"]) == (409, 3) and redis_client.llen(DEAD_LETTER_KEY) == 3
    done = api.post("/api/tasks/requeue-dead/", json={"species": "cat", "expected_count": 3})
    assert done.json() == {"count": 3, "requeued": 3}
    wait_until(lambda: all(state_of(redis_client, cat["id"]).state == "done" for cat in cats), timeout=20)
    audit = [entry.decode() for entry in redis_client.lrange(AUDIT_KEY, 0, -1)]
    assert any("requeue dead by filter" in entry and "species=cat: 3 requeued" in entry for entry in audit)
    assert any('"retry"' in entry and dog_task in entry for entry in audit)
    history = api.get(f"/api/tasks/{dog_task}/").json()
    assert [step["event"] for step in history["events"]] == ["queued", "taken", "dead", "requeued", "taken", "done"]
    assert history["events"][3]["by"] == "admin (api)"
    assert redis_client.hlen(HISTORY_KEY) == 4
