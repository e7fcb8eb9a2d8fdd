"""`docker compose up` for real: the stack the README's Docker section starts, driven as a user would.

Run by `make compose-test` (and by `.ci/run` where a Docker engine can be started), not by `make
test`: it needs an engine, builds both images and takes minutes. It works on a copy of the
checkout (tracked and new files), under its own project name, image tag and free host ports, with
tests/compose/compose.test.yml adding a stand-in for Wikipedia. The steps run in order (`-x`
stops at the first that fails); each prints its time. Everything it made (containers, network,
volumes, the images it tagged) is removed at the end, failed or not.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pets-compose-test"
TAG = "compose-test"
CONSUMERS = ("consumer-1", "consumer-2", "consumer-3")
PROCESSED = "/app/processed_data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def readme_docker_commands() -> str:
    """The first bash block of the README's Docker section, as a user would paste it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Run it with Docker", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's Docker section has no bash block"
    return match.group(1)


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.monotonic()
    print(f"\n[compose-test] {name} ...", flush=True)
    try:
        yield
    except BaseException:
        print(f"[compose-test] {name}: FAILED after {time.monotonic() - started:.1f}s", flush=True)
        raise
    print(f"[compose-test] {name}: ok in {time.monotonic() - started:.1f}s", flush=True)


@dataclass
class Stack:
    """One compose project made from a copy of the checkout, and what the steps learn about it."""

    folder: Path
    env: dict[str, str]
    api: str
    token: str = ""
    revoked: str = ""  # a refresh token logged out before the restarts
    pets: dict[str, dict] = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(["docker", "compose", *args], timeout=timeout, check=check)

    def run(self, command: list[str], timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            command, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout
        )  # fmt: skip
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}"
                f"\n--- stderr\n{result.stderr[-3000:]}\n--- services\n{self.diagnosis()}",
                pytrace=False,
            )
        return result

    def diagnosis(self) -> str:
        """What a person would look at first: the containers' states and their last log lines."""
        ps = subprocess.run(
            ["docker", "compose", "ps", "-a", "--format", "{{.Name}}: {{.Status}}"],
            cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        logs = subprocess.run(
            ["docker", "compose", "logs", "--no-color", "--tail", "15"],
            cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return ps.stdout + logs.stdout[-6000:]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def login(self, password: str) -> requests.Response:
        return requests.post(f"{self.api}/api/token/", json={"username": "admin", "password": password}, timeout=10)

    def create(self, name: str, species: str) -> dict:
        body = {"name": name, "species": species, "age": 4, "owner": "Compose Test", "vaccinated": False}
        response = requests.post(f"{self.api}/api/pets/", json=body, headers=self.headers(), timeout=10)
        assert response.status_code == 201, response.text
        pet = response.json()["pet"]
        self.pets[name] = pet
        return pet

    def stats(self) -> dict:
        response = requests.get(f"{self.api}/api/redis/stats/", headers=self.headers(), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def files_of(self, pet: dict) -> list[str]:
        """The result files of `pet` in the processed_data volume, as the API's container sees it
        (the consumers write there; a step may have stopped them, never the API)."""
        listing = self.run(["docker", "exec", "pets-django-api", "ls", PROCESSED])
        return [name for name in listing.stdout.split() if name.startswith(pet["id"])]

    def wait_for_file(self, pet: dict, timeout: float = 90) -> str:
        first = self.wait_until(lambda: (files := self.files_of(pet)) and files[0], timeout, f"{pet['name']}'s file")
        return str(first)

    def wait_until(self, probe: Callable[[], object], timeout: float, what: str) -> object:
        deadline = time.monotonic() + timeout
        while not (value := probe()):
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout:.0f}s\n--- services\n{self.diagnosis()}", pytrace=False)
            time.sleep(1)
        return value

    def read_file(self, name: str) -> dict:
        return json.loads(self.run(["docker", "exec", "pets-django-api", "cat", f"{PROCESSED}/{name}"]).stdout)

    def up(self, *services: str) -> None:
        self.compose("up", "--wait", *services)


def engine_problem() -> str | None:
    for command in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(command)}` could not run: {exc}"
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed: {result.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    problem = engine_problem()
    if problem:
        pytest.fail(f"the compose test needs a Docker engine with Compose v2: {problem}", pytrace=False)
    folder = tmp_path_factory.mktemp("compose") / "pets"
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listing, cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    api_port = free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "COMPOSE_FILE": "docker-compose.yml:tests/compose/compose.test.yml",
        "PETS_IMAGE_TAG": TAG,
        "API_PORT": str(api_port),
        "REDIS_HOST_PORT": str(free_port()),
        "MONGODB_HOST_PORT": str(free_port()),
        "COMPOSE_PARALLEL_LIMIT": "1",
    }
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"  # no BuildKit plugin: the classic builder
    for variable in ("DJANGO_SECRET_KEY", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_ALLOWED_HOSTS"):
        env.pop(variable, None)  # the stack is configured by its files, not by this shell
    made = Stack(folder=folder, env=env, api=f"http://127.0.0.1:{api_port}")
    started = time.monotonic()
    try:
        yield made
    finally:
        with step("clean up: containers, network, volumes and the test's images"):
            made.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)
            made.run(["docker", "image", "rm", f"pets-api:{TAG}", f"pets-consumer:{TAG}"], check=False)
            shutil.rmtree(folder, ignore_errors=True)
        print(f"\n[compose-test] whole run: {time.monotonic() - started:.0f}s", flush=True)


def test_the_readmes_commands_build_start_and_give_a_token(stack):
    """The README's Docker block as written (host port moved): up --build --wait exits 0 with no
    .env at all, an admin is made without a prompt, a token comes back, Luna is created."""
    commands = readme_docker_commands().replace("localhost:8000", stack.api.removeprefix("http://"))
    with step("README: docker compose up --build --wait, an admin, a token, a pet"):
        result = stack.run(["bash", "-euo", "pipefail", "-c", commands], timeout=1200)
    assert '"message": "Pet created successfully"' in result.stdout or '"message":"Pet created successfully"' in (
        result.stdout
    ), result.stdout[-2000:]
    states = stack.compose("ps", "-a", "--format", "{{.Service}} {{.Health}}").stdout.split("\n")
    assert sorted(filter(None, states)) == sorted(
        f"{service} healthy"
        for service in ("redis", "mongodb", "django-api", "outbox-relay", *CONSUMERS, "fake-wikipedia")
    ), states
    response = stack.login(stack_password())
    assert response.status_code == 200, response.text
    stack.token = response.json()["access"]
    [luna] = [pet for pet in requests.get(f"{stack.api}/api/pets/", headers=stack.headers(), timeout=10).json()]
    stack.pets["Luna"] = luna


def test_the_curl_walk_through(stack):
    """Create, list, detail, update, delete and the queue's stats, as the walk-through does them."""
    with step("walk-through: create, list, filter, detail, update, delete, stats"):
        rex = stack.create("Rex", "Dog")
        listed = requests.get(f"{stack.api}/api/pets/", headers=stack.headers(), timeout=10)
        assert listed.status_code == 200 and [pet["name"] for pet in listed.json()] == ["Rex", "Luna"]
        dogs = requests.get(f"{stack.api}/api/pets/?species=dog", headers=stack.headers(), timeout=10).json()
        assert [pet["name"] for pet in dogs] == ["Rex"]
        detail = requests.get(f"{stack.api}/api/pets/{rex['id']}/", headers=stack.headers(), timeout=10)
        assert detail.status_code == 200 and detail.json()["species"] == "Dog"
        updated = requests.patch(
            f"{stack.api}/api/pets/{rex['id']}/", json={"age": 5}, headers=stack.headers(), timeout=10
        )
        assert updated.status_code == 200 and updated.json()["pet"]["age"] == 5, updated.text
        gone = stack.create("Gone", "Hamster")
        deleted = requests.delete(f"{stack.api}/api/pets/{gone['id']}/", headers=stack.headers(), timeout=10)
        assert deleted.status_code in (200, 204), deleted.text
        missing = requests.get(f"{stack.api}/api/pets/{gone['id']}/", headers=stack.headers(), timeout=10)
        assert missing.status_code == 404
        stats = stack.stats()
        assert stats["queue_name"] == "pets:tasks" and stats["redis_host"] == "redis", stats
        assert sorted(stats["live_consumers"]) == ["Consumer-1", "Consumer-2", "Consumer-3"], stats


def test_a_pets_file_has_the_original_format_and_the_page_shows_it(stack):
    with step("enrichment: Luna's file in the processed_data volume, the page at /"):
        name = stack.wait_for_file(stack.pets["Luna"])
        assert re.fullmatch(rf"{stack.pets['Luna']['id']}_Luna_\d{{8}}_\d{{6}}\.json", name), name
        document = stack.read_file(name)
        assert set(document) == {"metadata", "original_data", "enriched_info", "statistics"}
        wikipedia = document["enriched_info"]["wikipedia"]
        assert wikipedia["wikipedia_extract"] == "The cat as told by the compose test's stand-in for Wikipedia."
        assert wikipedia["status"] == "found"
        assert document["original_data"]["name"] == "Luna"
        assert document["metadata"]["processed_by"] in {"Consumer-1", "Consumer-2", "Consumer-3"}
        page = requests.get(f"{stack.api}/", timeout=10)
        assert page.status_code == 200 and "Luna" in page.text and "Rex" in page.text


def test_a_consumer_killed_mid_task_loses_nothing(stack):
    """SIGKILL the consumer that holds a task (its Wikipedia call is slow); another finishes it."""
    with step("SIGKILL the consumer holding a task: another one finishes it, one file"):
        pet = stack.create("Shelly", "Slowtortoise")

        def holder() -> str | None:
            for service in CONSUMERS:
                logs = stack.run(["docker", "logs", f"pets-{service}"]).stdout
                if f"Processing pet: Shelly (Slowtortoise) - ID: {pet['id'][:8]}" in logs:
                    return service
            return None

        service = str(stack.wait_until(holder, 30, "consumer taking Shelly's task"))
        stack.run(["docker", "kill", "--signal", "KILL", f"pets-{service}"])
        print(f"[compose-test]   killed pets-{service} while it waited on Wikipedia", flush=True)
        name = stack.wait_for_file(pet, timeout=120)
        assert stack.read_file(name)["metadata"]["processed_by"] != f"Consumer-{service[-1]}"
        time.sleep(3)  # a second file would have been written by now
        assert len(stack.files_of(pet)) == 1
        stack.up()  # the killed consumer back, as `docker compose up` brings it


def test_restart_keeps_pets_users_revocations_and_queued_tasks(stack):
    with step("docker compose restart: pets, users, a revoked token and a queued task are kept"):
        stack.revoked = stack.login(stack_password()).json()["refresh"]
        logout = requests.post(f"{stack.api}/api/token/logout/", json={"refresh": stack.revoked}, timeout=10)
        assert logout.status_code in (200, 204, 205), logout.text
        stack.compose("stop", *CONSUMERS)
        queued = stack.create("Queued", "Rabbit")
        assert stack.stats()["pending_tasks"] == 1
        stack.compose("restart")
        stack.up()
        assert_kept(stack)
        stack.wait_for_file(queued)


def test_down_then_up_keeps_everything_and_the_queue(stack):
    with step("docker compose down, then up: pets, users, revocations and the queue are kept"):
        stack.compose("stop", *CONSUMERS)
        waiting = stack.create("Waiting", "Parrot")
        stack.compose("down")
        stack.up("redis", "mongodb", "django-api", "outbox-relay")
        assert stack.stats()["pending_tasks"] == 1  # Redis kept the task through down and up
        assert_kept(stack)
        stack.up()
        stack.wait_for_file(waiting)


def test_an_env_from_the_example_and_then_a_secret_key_in_it_start_healthy(stack):
    """`cp .env.example .env` as it is, then with DJANGO_SECRET_KEY set: each time every service, the
    relay included, comes up healthy, and the API answers by its service name inside the network."""
    example = (stack.folder / ".env.example").read_text()
    with_key = example.replace("\nDJANGO_SECRET_KEY=\n", f"\nDJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n")
    assert with_key != example
    for label, env_file in ((".env.example as it is", example), ("DJANGO_SECRET_KEY set", with_key)):
        with step(f"cp .env.example .env ({label}): up --build --wait, a call by service name, the admin"):
            (stack.folder / ".env").write_text(env_file)
            stack.compose("up", "--build", "--wait")
            by_name = stack.compose(
                "exec", "-T", "outbox-relay", "python", "-c",
                "import urllib.request; print(urllib.request.urlopen('http://django-api:8000/', timeout=5).status)",
            )  # fmt: skip
            assert by_name.stdout.strip() == "200"
            response = stack.login(stack_password())  # the admin made at the start: same password
            assert response.status_code == 200, response.text


def test_down_v_removes_everything(stack):
    with step("docker compose down -v: no container, network or volume left"):
        stack.compose("down", "-v")
        labelled = f"label=com.docker.compose.project={PROJECT}"
        for kind in ("container", "volume", "network"):
            listing = stack.run(["docker", kind, "ls", *(["-a"] if kind == "container" else []), "-q", "-f", labelled])
            assert listing.stdout.strip() == "", (kind, listing.stdout)


def stack_password() -> str:
    """The admin's password the README's commands set."""
    found = re.search(r"DJANGO_SUPERUSER_PASSWORD=(\S+)", readme_docker_commands())
    assert found, "the README's Docker block sets no DJANGO_SUPERUSER_PASSWORD"
    return found.group(1)


def assert_kept(stack: Stack) -> None:
    fresh = stack.login(stack_password())
    assert fresh.status_code == 200, fresh.text  # the user survived
    stack.token = fresh.json()["access"]
    names = {pet["name"] for pet in requests.get(f"{stack.api}/api/pets/", headers=stack.headers(), timeout=10).json()}
    assert {"Luna", "Rex", "Shelly"} <= names, names
    refused = requests.post(f"{stack.api}/api/token/refresh/", json={"refresh": stack.revoked}, timeout=10)
    assert refused.status_code == 401, refused.text  # the revocation survived
