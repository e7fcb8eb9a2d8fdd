"""Real services for the suite, each on a free port of 127.0.0.1, started once per session.

- Redis: a private `redis-server` (never the machine's own on 6379).
- MongoDB: `MONGODB_URI` if set (a real mongod), else an embedded SecantusDB process.
- The API: gunicorn serving the project, with a migrated SQLite file and an admin user.
- Wikipedia: pytest-httpserver, serving summary-shaped JSON.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pymongo
import pytest
import redis
from pytest_httpserver import HTTPServer

from contracts.results import RESULTS_COLLECTION
from tests.support.api import Api, api_environment, start_api
from tests.support.processes import VENV_BIN, Process, base_env, free_port, stop_all, wait_until
from tests.support.servers import start_redis
from tests.support.wikipedia import WIKIPEDIA_PREFIX


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory, logs_dir):
    server = start_redis(tmp_path_factory.mktemp("redis"), logs_dir, "redis")
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory, logs_dir):
    external = os.environ.get("MONGODB_URI")
    if external:
        yield external
        return
    port = free_port()
    process = Process(
        "secantusdb",
        [
            str(VENV_BIN / "secantusd-py"),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--storage-path", str(tmp_path_factory.mktemp("mongo")),
            "--log-level", "WARNING",
        ],
        base_env(),
        logs_dir,
    )  # fmt: skip
    uri = f"mongodb://127.0.0.1:{port}/pets_database?retryWrites=false"
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    wait_until(lambda: client.admin.command("ping"), timeout=30, what="SecantusDB")
    client.close()
    yield uri
    process.stop()


@pytest.fixture(scope="session")
def pets_collection(mongo_uri):
    client = pymongo.MongoClient(mongo_uri)
    yield client.get_default_database("pets_database")["pet"]
    client.close()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory, logs_dir, redis_server, mongo_uri):
    env = api_environment(tmp_path_factory.mktemp("api"), mongo_uri=mongo_uri, redis_url=redis_server.url)
    server = start_api(env, logs_dir)
    yield server
    server.process.stop()


@pytest.fixture
def anon(api_server) -> Api:
    return Api(api_server.base_url)


@pytest.fixture(scope="session")
def admin_access_token(api_server) -> str:
    """One login for the session: each costs a deliberately slow password hash (~0.35 s)."""
    return Api(api_server.base_url).login()["access"]


@pytest.fixture
def api(api_server, admin_access_token) -> Api:
    client = Api(api_server.base_url)
    client.session.headers["Authorization"] = f"Bearer {admin_access_token}"
    return client


@pytest.fixture
def redis_client(redis_server) -> redis.Redis:
    return redis_server.client()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Each test starts with an empty queue, no pets and no result files."""
    names = request.fixturenames
    if "redis_server" in names:
        request.getfixturevalue("redis_server").client().flushdb()
    if "pets_collection" in names or "api_server" in names or "mongo_uri" in names:
        pets = request.getfixturevalue("pets_collection")
        pets.delete_many({})
        pets.database[RESULTS_COLLECTION].delete_many({})
    if "api_server" in names:
        processed = request.getfixturevalue("api_server").processed_dir
        shutil.rmtree(processed, ignore_errors=True)
        processed.mkdir(parents=True)


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server, threaded (three consumers call it at once), on 127.0.0.1."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def wikipedia(httpserver):
    """The fake Wikipedia; tests register answers with `httpserver.expect_request`.

    A title no test registered is answered 404 ("no article"), as Wikipedia would.
    """
    httpserver.clear()
    httpserver.no_handler_status_code = 404
    return httpserver


@pytest.fixture
def start_consumer(redis_server, mongo_uri, wikipedia, tmp_path, logs_dir):
    """Start real `consumer.py` processes; all are stopped (SIGTERM) at the end of the test."""
    started: list[Process] = []

    def start(consumer_id: str = "1", **env_extra: str) -> Process:
        env = base_env(
            CONSUMER_ID=consumer_id,
            REDIS_URL=redis_server.url,
            MONGODB_URI=mongo_uri,
            PROCESSED_DIR=str(tmp_path / "processed_data"),
            WIKIPEDIA_API_URL=wikipedia.url_for(WIKIPEDIA_PREFIX),
            WIKIPEDIA_TIMEOUT_SECONDS="1",
            TASK_RETRY_BASE_SECONDS="0.2",
        )
        env.update(env_extra)
        name = f"consumer-{consumer_id}-{len(started)}-{os.getpid()}"
        process = Process(name, [sys.executable, "consumer.py"], env, tmp_path)
        started.append(process)
        wait_until(lambda: "Waiting for tasks" in process.output(), what=f"{name} to start")
        return process

    yield start
    stop_all(started)
