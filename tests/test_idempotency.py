"""Idempotent creates through the real API: a create retried with its Idempotency-Key, a hundred
times one after another or at once, leaves one pet, one task and, once a real consumer has run,
one file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from contracts.tasks import TASKS_KEY
from tests.support.api import Api, create_user
from tests.support.processes import wait_until
from tests.support.wikipedia import WIKIPEDIA_PREFIX, summary_json

LUNA = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": True}


def one_pet_one_task_one_file(pets_collection, redis_client, start_consumer, wikipedia, tmp_path) -> None:
    assert pets_collection.count_documents({}) == 1
    assert redis_client.llen(TASKS_KEY) == 1
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_json(summary_json("Cat"))
    start_consumer("1")
    processed = Path(tmp_path / "processed_data")
    wait_until(lambda: list(processed.glob("*.json")), timeout=30, what="the result file")
    wait_until(lambda: redis_client.llen("pets:processing:Consumer-1") == 0, what="the task finished")
    assert len(list(processed.glob("*.json"))) == 1


def test_a_create_retried_a_hundred_times_with_its_key_makes_one_pet(
    api, pets_collection, redis_client, start_consumer, wikipedia, tmp_path
):
    headers = {"Idempotency-Key": "order-2026-12-07-luna"}
    first = api.post("/api/pets/", json=LUNA, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    for _ in range(99):
        again = api.post("/api/pets/", json=LUNA, headers=headers)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content  # the first answer, byte for byte
    one_pet_one_task_one_file(pets_collection, redis_client, start_consumer, wikipedia, tmp_path)


def test_a_hundred_concurrent_creates_with_one_key_make_one_pet(
    api, pets_collection, redis_client, start_consumer, wikipedia, tmp_path
):
    headers = {"Idempotency-Key": "concurrent-luna"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: api.post("/api/pets/", json=LUNA, headers=headers), range(100)))
    assert {answer.status_code for answer in answers} <= {201, 409}
    created = [answer for answer in answers if answer.status_code == 201]
    assert len({answer.json()["pet"]["id"] for answer in created}) == 1
    assert sum("Idempotent-Replayed" not in answer.headers for answer in created) == 1
    for busy in (answer for answer in answers if answer.status_code == 409):
        assert busy.headers["Retry-After"] == "1"
        assert "in progress" in busy.json()["error"]
    one_pet_one_task_one_file(pets_collection, redis_client, start_consumer, wikipedia, tmp_path)


def test_a_key_is_the_users_own(api, api_server, pets_collection):
    """Another user sending the same key makes their own pet: keys never cross accounts."""
    create_user(api_server, "keyholder", "keyholder-pass-1")
    other = Api(api_server.base_url)
    other.login("keyholder", "keyholder-pass-1")
    headers = {"Idempotency-Key": "shared-looking-key"}
    mine = api.post("/api/pets/", json=LUNA, headers=headers)
    theirs = other.post("/api/pets/", json=LUNA, headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["pet"]["id"] != theirs.json()["pet"]["id"]
    assert pets_collection.count_documents({}) == 2
