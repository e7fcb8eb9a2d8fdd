"""Helpers for tests that run real servers and processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from werkzeug import Response

from contracts.queue import NORMAL, build_task, push_task

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05, what: str = ""):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # a server still starting refuses connections
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {last_error!r}")


class Process:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT)
        self._asked_to_stop = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.popen.pid, signum)
            self._asked_to_stop |= signum == signal.SIGTERM

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (once: a second one means "now" to a consumer), then SIGKILL after `timeout`."""
        if self.alive():
            if not self._asked_to_stop:
                self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._log.close()
        return self.popen.returncode


def base_env(**extra: str) -> dict[str, str]:
    """The test processes' environment: this interpreter's venv first, nothing from a .env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "WIKIPEDIA_"))}
    env.pop("MONGODB_URI", None)
    env.pop("PROCESSED_DIR", None)
    env.pop("CONSUMER_ID", None)
    env.pop("DATABASE_URL", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def stop_all(processes: list[Process], timeout: float = 10.0) -> None:
    """SIGTERM every process first, then wait for each: they shut down side by side."""
    for process in processes:
        process.signal(signal.SIGTERM)
    for process in processes:
        process.stop(timeout)


# -- the services, as every test starts them -----------------------------------------------
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin123"
METRICS_TOKEN = "metrics-token-for-tests"


@dataclass
class RedisServer:
    port: int
    process: Process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


def start_redis(
    work_dir: Path, logs_dir: Path, name: str, port: int | None = None, aof: bool = False, extra: tuple[str, ...] = ()
) -> RedisServer:
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(work_dir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
    server = RedisServer(port, Process(name, args + list(extra), base_env(), logs_dir))
    wait_until(lambda: server.client().ping(), what=f"redis on {port}")
    return server


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
        METRICS_TOKEN=METRICS_TOKEN,
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


# -- the stand-in Wikipedia and tasks pushed by hand -------------------------------------------
PET_ID = "6981fcf3dd7c1b67498baf89"


def push(redis_client, priority: str = NORMAL, **overrides) -> dict:
    """Queue a task as the API does (its priority's list, and a token that wakes a consumer)."""
    fields: dict[str, Any] = {
        "pet_id": PET_ID,
        "name": "Mishi",
        "species": "Cat",
        "age": 2,
        "owner": "Ana Garcia",
        "vaccinated": False,
    }
    fields.update(overrides)
    task = build_task(**fields, reason="created", priority=priority)
    with redis_client.pipeline() as pipe:
        push_task(pipe, task.to_json(), priority)
        pipe.execute()
    return json.loads(task.to_json())


def result_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.json")) if directory.exists() else []


def wait_for_files(directory: Path, count: int, timeout: float = 20) -> list[Path]:
    return wait_until(
        lambda: len(result_files(directory)) >= count and result_files(directory), timeout, what=f"{count} files"
    )


def serve_summary(wikipedia, title: str, **response_kwargs) -> None:
    path = f"{WIKIPEDIA_PREFIX}/page/summary/{title.replace(' ', '_')}"
    if response_kwargs:
        wikipedia.expect_request(path).respond_with_response(Response(**response_kwargs))
    else:
        wikipedia.expect_request(path).respond_with_json(summary_json(title))


@dataclass(frozen=True)
class ServerSentEvent:
    id: str
    type: str
    data: dict


class EventStream:
    """A client of `GET /api/events/` reading Server-Sent Events as they come."""

    def __init__(
        self, base_url: str, last_event_id: str | None = None, timeout: float = 10, after: str | None = None
    ) -> None:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        params = {"after": after} if after is not None else None
        self.response = requests.get(
            base_url + "/api/events/", headers=headers, params=params, stream=True, timeout=timeout
        )
        assert self.response.status_code == 200, self.response.text
        self._lines = self.response.iter_lines(chunk_size=None, decode_unicode=True)
        self.fields_seen: list[str] = []  # every field line, `retry:` and comments included

    def next_event(self) -> ServerSentEvent:
        """The next event (raises requests' timeout if none comes in time)."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if line:
                self.fields_seen.append(line)
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif "data" in fields:
                return ServerSentEvent(fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"]))
            else:
                fields = {}
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def manage_shell(api_server, code: str) -> None:
    """Run Django code against the API's own user database (as an operator would)."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env=api_server.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def create_user(api_server, username: str, password: str) -> None:
    manage_shell(
        api_server,
        f"from django.contrib.auth.models import User; User.objects.create_user({username!r}, password={password!r})",
    )


# Debian's chromium, driven by Playwright (never a browser download).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium_page(screenshot: Path, width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A page in headless chromium; afterwards a full-page screenshot is saved to `screenshot`,
    and any script error the page raised fails the test."""
    from playwright import sync_api as playwright_sync

    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
        assert errors == []


# -- PostgreSQL: a server of the test's own, on a free port ----------------------------------------
POSTGRES_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=None)
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]  # initdb refuses root


def start_sentinel(
    work_dir: Path, logs_dir: Path, name: str, master_port: int, replica_port: int, quorum: int = 2
) -> RedisServer:
    """A Redis Sentinel (redis-server in sentinel mode) watching the master `mymaster` on
    `master_port`; it calls the master down after 1 s of silence. It is told of the replica
    (otherwise it learns of it from the master's INFO, every 10 s)."""
    port = free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "sentinel.conf"  # a Sentinel rewrites its own configuration file
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {work_dir}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\n"
        "sentinel down-after-milliseconds mymaster 1000\n"
        "sentinel failover-timeout mymaster 10000\n"
        "sentinel parallel-syncs mymaster 1\n"
        f"sentinel known-replica mymaster 127.0.0.1 {replica_port}\n"
    )
    server = RedisServer(port, Process(name, ["redis-server", str(config), "--sentinel"], base_env(), logs_dir))
    wait_until(lambda: server.client().ping(), what=f"sentinel on {port}")
    return server


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    process: Process

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        """A fresh, empty database; its DATABASE_URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
            connection.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres(logs_dir: Path, name: str = "postgres") -> PostgresServer:
    """initdb and start PostgreSQL (Debian's package) as its own user, on 127.0.0.1 only; fsync off."""
    assert POSTGRES_BIN is not None, "no PostgreSQL: make test installs it (scripts/ensure-system-packages.sh)"
    work = Path(tempfile.mkdtemp(prefix="petapp-postgres-"))  # outside pytest's root-only tmp dirs
    data = work / "data"
    shutil.chown(work, "postgres", "postgres")
    initdb = [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
    subprocess.run(AS_POSTGRES + initdb, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(work)]
    server += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"]
    process = Process(name, AS_POSTGRES + server, base_env(), logs_dir, cwd=work)
    ready = [str(POSTGRES_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
    wait_until(lambda: subprocess.run(ready, capture_output=True).returncode == 0, timeout=30, what="PostgreSQL")
    return PostgresServer(port, data, process)
