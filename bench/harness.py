"""Processes and services for the benchmark, each on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pymongo
import redis
import requests
from pymongo.database import Database

from contracts.tasks import heartbeat_key
from tests.support.processes import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60  # a server starting on a loaded 2-core machine
VENV_BIN = Path(sys.executable).parent


class Service:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path, cwd: Path = ROOT) -> None:
        self.name = name
        self.log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(args, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)

    def pids(self) -> list[int]:
        """This process and all its children (gunicorn's workers)."""
        try:
            parent = psutil.Process(self.popen.pid)
            return [parent.pid] + [child.pid for child in parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.log.close()


def redis_cpu_seconds(client: redis.Redis) -> float:
    """Redis's own CPU time so far (INFO cpu): the queue, the states and the task history live there."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def cpu_seconds(services: list[Service]) -> float:
    """User + system CPU time used so far by these processes and their children."""
    total = 0.0
    for service in services:
        for pid in service.pids():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "WIKIPEDIA_", "MONGODB"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Stack:
    """Redis, the embedded database and a stand-in for Wikipedia, shared by every scenario."""

    def __init__(self, work: Path, wikipedia_latency: float) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.services: list[Service] = []
        redis_port, mongo_port = free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.mongo_uri = f"mongodb://127.0.0.1:{mongo_port}/pets_database?retryWrites=false"
        self.secret = secrets.token_urlsafe(50)
        self._start("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no"])  # fmt: skip
        (work / "mongo").mkdir(exist_ok=True)
        self.mongo = self._start(
            "secantusdb",
            [str(VENV_BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(mongo_port),
             "--storage-path", str(work / "mongo"), "--sync-on-commit", "--log-level", "WARNING"],
        )  # fmt: skip
        self.redis = redis.Redis.from_url(self.redis_url)
        wait_until(self.redis.ping, timeout=STARTUP_SECONDS, what="redis")
        self.db: Database = pymongo.MongoClient(self.mongo_uri).get_default_database()
        wait_until(lambda: self.db.command("ping"), timeout=STARTUP_SECONDS, what="SecantusDB")
        self.wikipedia = StandInWikipedia(wikipedia_latency)
        self.api_env = base_env(
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY=self.secret,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SQLITE_PATH=str(work / "db.sqlite3"),
            DJANGO_SUPERUSER_USERNAME="admin",
            DJANGO_SUPERUSER_PASSWORD="admin123",
            DJANGO_LOG_LEVEL="WARNING",
            MONGODB_URI=self.mongo_uri,
            REDIS_URL=self.redis_url,
            PROCESSED_DIR=str(work / "processed_data"),
            WIKIPEDIA_API_URL=self.wikipedia.url,
            OUTBOX_GRACE_SECONDS="0",  # relay_outbox_once clears what the API staged at once
        )
        for command in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"], ["ensure_indexes", "--wait", "30"]):
            subprocess.run([sys.executable, "manage.py", *command], env=self.api_env, cwd=ROOT, check=True,
                           capture_output=True)  # fmt: skip

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Service:
        service = Service(name, args, env or base_env(), self.logs, cwd)
        self.services.append(service)
        return service

    def start_api(self, workers: int, checkout: Path = ROOT) -> tuple[Service, str]:
        """The API as production serves it, from this checkout or another one (bench/compare.py)."""
        port = free_port()
        args = [str(VENV_BIN / "gunicorn"), "--config", str(checkout / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null"]  # fmt: skip
        env = self.api_env if checkout == ROOT else dict(self.api_env, PYTHONPATH=str(checkout))
        service = self._start("api" if checkout == ROOT else f"api-{checkout.name}", args, env, cwd=checkout)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{url}/health/", timeout=2).ok, timeout=STARTUP_SECONDS, what="the API")
        return service, url

    def start_floor_api(self, workers: int) -> tuple[Service, str]:
        port = free_port()
        args = [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "bench" / "floor_gunicorn.py"),
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "bench.floor_app:app"]  # fmt: skip
        service = self._start("floor-api", args, self.api_env)
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: requests.get(f"{url}/api/pets/", timeout=2).status_code == 401,
            timeout=STARTUP_SECONDS,
            what="the floor API",
        )
        return service, url

    def start_consumers(self, floor: bool, processed: Path, checkout: Path = ROOT) -> list[Service]:
        """Three consumers (or floor consumers), from this checkout or another one (bench/compare.py)."""
        processed.mkdir(parents=True, exist_ok=True)
        started = []
        for number in (1, 2, 3):
            env = dict(self.api_env, CONSUMER_ID=str(number), PROCESSED_DIR=str(processed))
            args = [sys.executable, "-m", "bench.floor_consumer"] if floor else [sys.executable, "consumer.py"]
            name = f"{'floor-' if floor else ''}consumer-{number}"
            if checkout != ROOT:
                env["PYTHONPATH"] = str(checkout)
                name += f"-{checkout.name}"
            started.append(self._start(name, args, env, cwd=ROOT if floor else checkout))
        if not floor:
            for key in (heartbeat_key(f"Consumer-{number}") for number in (1, 2, 3)):
                wait_until(partial(self.redis.exists, key), timeout=STARTUP_SECONDS, what="consumers")
        return started

    def relay_outbox_once(self) -> None:
        """One round of the outbox relay: the tasks staged on pets the API created are cleared."""
        subprocess.run([sys.executable, "manage.py", "relay_outbox", "--once"], env=self.api_env, cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip

    def stop(self, services: list[Service]) -> None:
        for service in services:
            service.stop()
            self.services.remove(service)

    def close(self) -> None:
        self.wikipedia.close()
        for service in reversed(self.services):
            service.stop()


class StandInWikipedia:
    """Summary-shaped JSON for any title, after `latency` seconds (the real one is not reachable)."""

    def __init__(self, latency: float) -> None:
        self.titles: list[str] = []  # list.append is atomic: the handler threads share it
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                title = self.path.rsplit("/", 1)[-1]
                stand_in.titles.append(title)
                time.sleep(latency)
                body = json.dumps({
                    "type": "standard", "title": title, "extract": f"The {title} is an animal.",
                    "content_urls": {"desktop": {"page": f"https://en.wikipedia.org/wiki/{title}"}},
                    "thumbnail": {"source": f"https://upload.wikimedia.org/{title}.jpg"},
                }).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/rest_v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def requests(self) -> int:
        return len(self.titles)

    def close(self) -> None:
        self.server.shutdown()
