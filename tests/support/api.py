"""The API as the tests run it (gunicorn, as in production) and a client for it."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import ROOT, VENV_BIN, Process, base_env, free_port, wait_until

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin123"
METRICS_TOKEN = "metrics-token-for-tests"


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
