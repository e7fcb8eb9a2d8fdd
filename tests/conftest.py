"""Real services for the suite, each on a free port of 127.0.0.1, started once per session.

- Redis: a private `redis-server` (never the machine's own on 6379).
- MongoDB: `MONGODB_URI` if set (a real mongod), else an embedded SecantusDB process.
- The API: gunicorn serving the project, with a migrated SQLite file and an admin user.
- Wikipedia: pytest-httpserver, serving summary-shaped JSON.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pymongo
import pytest
import redis
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from contracts.results import RESULTS_COLLECTION
from tests.support import ROOT, VENV_BIN, Process, base_env, free_port, stop_all, wait_until

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin123"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@dataclass
class RedisServer:
    port: int
    process: Process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


def start_redis(work_dir: Path, logs_dir: Path, name: str, port: int | None = None, aof: bool = False) -> RedisServer:
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(work_dir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
    server = RedisServer(port, Process(name, args, base_env(), logs_dir))
    wait_until(lambda: server.client().ping(), what=f"redis on {port}")
    return server


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


@dataclass
class ApiServer:
    base_url: str
    env: dict
    process: Process

    @property
    def processed_dir(self) -> Path:
        return Path(self.env["PROCESSED_DIR"])


def api_environment(tmp_dir: Path, *, mongo_uri: str, redis_url: str, **extra: str) -> dict:
    env = base_env(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SQLITE_PATH=str(tmp_dir / "db.sqlite3"),
        DJANGO_SUPERUSER_USERNAME=ADMIN_USERNAME,
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
        MONGODB_URI=mongo_uri,
        MONGODB_TIMEOUT_MS="1500",
        REDIS_URL=redis_url,
        PROCESSED_DIR=str(tmp_dir / "processed_data"),
    )
    env.update(extra)
    return env


def start_api(env: dict, logs_dir: Path, name: str = "api", database_up: bool = True) -> ApiServer:
    """Migrate, create the admin and the indexes, then serve with gunicorn as in production."""
    commands = [["migrate", "--noinput", "-v", "0"], ["ensure_admin"]]
    if database_up:
        commands.append(["ensure_indexes", "--wait", "10"])
    for command in commands:
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    # gunicorn.conf.py as in production (ASGI workers); only the port and the stop timeout differ.
    args = [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", "2", "--graceful-timeout", "5"]
    process = Process(name, args, env, logs_dir)
    base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{base_url}/api/schema/", timeout=2).ok, timeout=30, what="the API")
    return ApiServer(base_url, env, process)


@pytest.fixture(scope="session")
def api_server(tmp_path_factory, logs_dir, redis_server, mongo_uri):
    env = api_environment(tmp_path_factory.mktemp("api"), mongo_uri=mongo_uri, redis_url=redis_server.url)
    server = start_api(env, logs_dir)
    yield server
    server.process.stop()


class Api:
    """requests, with the server's base URL and, once logged in, a Bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def login(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> dict:
        response = self.post("/api/token/", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        tokens = response.json()
        self.session.headers["Authorization"] = f"Bearer {tokens['access']}"
        return tokens

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_pet(self, **overrides) -> dict:
        pet = {"name": "Luna", "species": "Cat", "age": 3, "owner": "María García", "vaccinated": True}
        pet.update(overrides)
        response = self.post("/api/pets/", json=pet)
        assert response.status_code == 201, response.text
        return response.json()["pet"]


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


WIKIPEDIA_PREFIX = "/api/rest_v1"


def summary_json(title: str) -> dict:
    """A Wikipedia REST summary, trimmed to the fields the worker reads."""
    slug = title.replace(" ", "_")
    return {
        "type": "standard",
        "title": title,
        "extract": f"The {title.lower()} is a test animal described by the local stand-in for Wikipedia.",
        "content_urls": {"desktop": {"page": f"https://en.wikipedia.org/wiki/{slug}"}},
        "thumbnail": {"source": f"https://upload.wikimedia.org/{slug}.jpg", "width": 320, "height": 240},
    }


def summary_response(request) -> Response:
    """The summary of the title in the request's path."""
    title = request.path.rsplit("/", 1)[-1].replace("_", " ")
    return Response(json.dumps(summary_json(title)), content_type="application/json")


def answer_slowly(wikipedia, seconds: float) -> None:
    """Answer every summary request after `seconds`: tasks take a while, as with the real Wikipedia."""

    def answer(request) -> Response:
        time.sleep(seconds)
        return summary_response(request)

    wikipedia.expect_request(re.compile(rf"{WIKIPEDIA_PREFIX}/page/summary/.*")).respond_with_handler(answer)


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
