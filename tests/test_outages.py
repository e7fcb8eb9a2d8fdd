"""The API when a service it needs is down: clear JSON answers, never a 500 or a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contracts.tasks import TASKS_KEY, parse_task
from tests.support.api import Api, api_environment, start_api
from tests.support.processes import ROOT, free_port


@pytest.fixture(scope="module")
def api_without_redis(tmp_path_factory, logs_dir, mongo_uri):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    server = start_api(
        api_environment(
            tmp_path_factory.mktemp("no-redis"), mongo_uri=mongo_uri, redis_url=dead_redis, OUTBOX_GRACE_SECONDS="0"
        ),
        logs_dir,
        "api-no-redis",
    )
    yield server
    server.process.stop()


@pytest.fixture(scope="module")
def api_without_mongo(tmp_path_factory, logs_dir, redis_server):
    dead_mongo = f"mongodb://127.0.0.1:{free_port()}/pets_database?retryWrites=false"
    server = start_api(
        api_environment(tmp_path_factory.mktemp("no-mongo"), mongo_uri=dead_mongo, redis_url=redis_server.url),
        logs_dir,
        "api-no-mongo",
        database_up=False,
    )
    yield server
    server.process.stop()


def test_redis_down_pet_is_saved_and_task_queued_false(api_without_redis, pets_collection):
    client = Api(api_without_redis.base_url)
    client.login()
    response = client.post("/api/pets/", json={"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana"})
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Pet created successfully"
    assert body["task_queued"] is False
    assert "info" not in body
    assert pets_collection.count_documents({"name": "Luna"}) == 1


def test_redis_down_stats_is_503_json(api_without_redis):
    client = Api(api_without_redis.base_url)
    client.login()
    response = client.get("/api/redis/stats/")
    assert response.status_code == 503
    assert response.json()["error"].startswith("Redis unavailable")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/pets/"), ("POST", "/api/pets/"), ("GET", "/api/pets/6981fcf3dd7c1b67498baf89/")],
)
def test_mongo_down_is_503_json(api_without_mongo, method, path):
    client = Api(api_without_mongo.base_url)
    client.login()  # users live in SQLite: login still works
    response = client.request(method, path, json={"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana"})
    assert response.status_code == 503
    assert response.json() == {"error": "Database unavailable, please retry shortly"}


def test_mongo_down_page_says_so(api_without_mongo):
    response = Api(api_without_mongo.base_url).get("/")
    assert response.status_code == 503
    assert "Database unavailable" in response.text


def test_pets_saved_while_redis_was_down_are_queued_by_the_relay(api_without_redis, redis_server, pets_collection):
    client = Api(api_without_redis.base_url)
    client.login()
    ids = [client.create_pet(name=f"Pet{i}")["id"] for i in range(3)]
    assert pets_collection.count_documents({"outbox_task": {"$exists": True}}) == 3

    env = dict(api_without_redis.env, REDIS_URL=redis_server.url)  # Redis is back
    result = subprocess.run(
        [sys.executable, "manage.py", "relay_outbox", "--once"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    tasks = [parse_task(raw) for raw in redis_server.client().lrange(TASKS_KEY, 0, -1)]
    assert sorted(task.pet_id for task in tasks) == sorted(ids)
    assert {task.reason for task in tasks} == {"created"}
    assert pets_collection.count_documents({"outbox_task": {"$exists": True}}) == 0


def test_readiness_names_the_missing_service(api_without_redis, api_without_mongo):
    no_redis = Api(api_without_redis.base_url).get("/health/ready/")
    assert no_redis.status_code == 503
    assert no_redis.json()["checks"] == {"mongodb": "ok", "redis": "down"}
    no_mongo = Api(api_without_mongo.base_url).get("/health/ready/")
    assert no_mongo.status_code == 503
    assert no_mongo.json()["checks"] == {"mongodb": "down", "redis": "ok"}
    assert Api(api_without_mongo.base_url).get("/health/").status_code == 200
