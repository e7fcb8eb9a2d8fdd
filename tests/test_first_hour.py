"""A new user's first hour: `make run` with the README's `.env`, operator commands as printed,
messages that say what and where when something is wrong."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests

from tests.support.processes import ROOT, VENV_BIN, Process, base_env, free_port, wait_until

sys.path.insert(0, str(ROOT / "scripts"))
from dotenv_exports import exports  # noqa: E402 (scripts/ is not a package)


def checkout_copy(tmp_path: Path) -> Path:
    """The tracked files of this checkout in a folder of their own, sharing the virtualenv."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    copy = tmp_path / "checkout"
    for name in filter(None, files.decode().split("\0")):
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target)
    (copy / ".venv").symlink_to(VENV_BIN.parent)
    return copy


def test_make_run_starts_with_the_example_env_and_the_environment_wins(tmp_path, redis_server, logs_dir):
    """`cp .env.example .env && make run` (the README's words), with API_PORT from the command line."""
    copy = checkout_copy(tmp_path)
    example = (copy / ".env.example").read_text()
    assert 'WIKIPEDIA_USER_AGENT="PetAppEnrichment/1.0 (' in example  # spaces, parentheses, a semicolon
    # The README's step, plus one value only the file gives: the Redis to use.
    (copy / ".env").write_text(example.replace("\nREDIS_URL=\n", f"\nREDIS_URL={redis_server.url}\n"))
    api_port, mongo_port = free_port(), free_port()
    env = base_env(API_PORT=str(api_port), DEV_MONGO_PORT=str(mongo_port))  # .env says API_PORT=8000
    run = Process("make-run", ["bash", "scripts/run.sh"], env, logs_dir, cwd=copy)
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{api_port}/health/ready/", timeout=2).ok,
            timeout=60,
            what="make run's API on the port given on the command line",
        )
        assert f"Pet list:   http://127.0.0.1:{api_port}/" in run.output()
        # A second `make run` in the same folder says so instead of a database traceback.
        second = subprocess.run(["bash", "scripts/run.sh"], cwd=copy, env=env, capture_output=True, text=True)
        assert second.returncode == 1
        assert f"make run is already running in this folder (pid {run.pid})" in second.stderr
        # The operator tool reads the same .env: it finds the three consumers.
        tool_env = base_env()
        status = wait_until(
            lambda: (
                result := subprocess.run(
                    ["./scripts/consumer", "status"], cwd=copy, env=tool_env, capture_output=True, text=True
                )
            )
            and '"Consumer-3"' in result.stdout
            and result,
            what="./scripts/consumer status to list three consumers",
        )
        assert f"Redis: {redis_server.url}" in status.stderr
        run.signal(signal.SIGTERM)  # what `kill $(cat .run/make-run.pid)` does
        assert run.wait(timeout=30) == 0
        assert "Pet App stopped." in run.output()
    finally:
        run.stop()
    assert "Traceback" not in run.output()


def test_dotenv_is_data_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\n"
        "API_PORT=8000\n"
        "REDIS_URL=\n"
        "WIKIPEDIA_USER_AGENT=Pets/1.0 (https://example.org; ops@example.org)\n"
        "QUOTED='a $HOME `b`'\n"
        "export EXPORTED=yes\n"
    )
    lines = exports(str(env_file), {"API_PORT": "8080", "EMPTY_IN_ENV": ""})
    assert "export API_PORT=8000" not in lines  # the environment wins
    assert not any(line.startswith("export REDIS_URL") for line in lines)  # empty means unset
    script = "\n".join(lines) + '\nprintf "%s|%s|%s" "$WIKIPEDIA_USER_AGENT" "$QUOTED" "$EXPORTED"'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert shown.stdout == "Pets/1.0 (https://example.org; ops@example.org)|a $HOME `b`|yes"


def test_a_taken_port_is_named_with_its_holder_and_variable():
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "scripts/check_ports.py", f"DEV_MONGO_PORT={port}", f"API_PORT={free_port()}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    assert result.returncode == 1
    assert f"port {port} (DEV_MONGO_PORT) is already in use by python" in result.stderr
    assert f"DEV_MONGO_PORT={port + 1} make run" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to run as another user")
def test_a_port_held_by_a_process_it_cannot_see_says_so():
    """Run as `nobody`, the check cannot read root's sockets: it says so instead of guessing."""
    with tempfile.TemporaryDirectory() as folder:  # pytest's own tmp_path is closed to other users
        os.chmod(folder, 0o755)
        script = Path(folder) / "check_ports.py"
        shutil.copy(ROOT / "scripts" / "check_ports.py", script)
        result = run_as_nobody(script)
    assert result.returncode == 1, result.stderr
    assert "is already in use by a process this user cannot see." in result.stderr
    assert "Traceback" not in result.stderr


def run_as_nobody(script: Path) -> subprocess.CompletedProcess:
    # The system's interpreter: this one may sit in root's home, which `nobody` cannot enter.
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = subprocess.run([*as_nobody, python, str(script), f"API_PORT={port}"], capture_output=True, text=True)
    assert f"port {port} (API_PORT)" in result.stderr, result.stderr
    return result


def test_an_unreachable_database_is_named_while_waiting_and_in_the_error(tmp_path):
    env = base_env(
        DJANGO_DEBUG="true",
        DJANGO_SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        MONGODB_URI="mongodb://pets:s3cret@127.0.0.1:1/pets_database",
        MONGODB_TIMEOUT_MS="500",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "ensure_indexes", "--wait", "4"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Waiting for MongoDB at 127.0.0.1:1 (127.0.0.1:1: [Errno 111] Connection refused)" in result.stderr
    assert "MongoDB is not reachable at 127.0.0.1:1 after 4s: 127.0.0.1:1: [Errno 111] Connection refused" in (
        result.stderr
    )
    assert "s3cret" not in result.stderr
    heartbeat = tmp_path / "relay.alive"
    relay = subprocess.run(
        [sys.executable, "manage.py", "relay_outbox", "--once"],
        cwd=ROOT,
        env={**env, "OUTBOX_RELAY_HEARTBEAT_FILE": str(heartbeat)},
        capture_output=True,
        text=True,
    )
    [line] = [line for line in relay.stderr.splitlines() if "round failed" in line]
    assert "Topology Description" not in line and len(line) < 300, line
    # A failed round is still a round: the relay is alive, so its health check passes.
    alive = subprocess.run([sys.executable, "-m", "pets.heartbeat_file", str(heartbeat), "60"], cwd=ROOT)
    assert alive.returncode == 0


def test_an_expired_token_says_it_is_expired(api_server, anon):
    claims = {"token_type": "access", "user_id": "1", "jti": uuid.uuid4().hex}
    expired = dict(claims, exp=datetime.now(UTC) - timedelta(minutes=1), iat=datetime.now(UTC) - timedelta(hours=1))
    token = jwt.encode(expired, api_server.env["DJANGO_SECRET_KEY"], algorithm="HS256")
    response = anon.get("/api/pets/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"error": "Token is expired", "code": "token_not_valid"}
    forged = jwt.encode(dict(claims, exp=datetime.now(UTC) + timedelta(minutes=5)), "x" * 40, algorithm="HS256")
    response = anon.get("/api/pets/", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["error"] != "Token is expired"


def test_past_the_last_page_there_is_a_way_back(api, anon):
    for name in ("A", "B", "C"):
        api.create_pet(name=name)
    html = anon.get("/?offset=500").text
    assert "No pets on this page." in html and 'href="./"' in html and "No pets yet" not in html
    response = api.get("/api/pets/?limit=2&offset=500")
    assert response.json() == [] and "Link" not in response.headers  # no link to yet another empty page
    assert response.headers["X-Total-Count"] == "3"


@pytest.mark.parametrize(("target", "expected"), [("status", '"live_consumers"'), ("dead-letters", "0 dead letter(s)")])
def test_make_operator_targets_work_as_printed(redis_server, target, expected):
    result = subprocess.run(
        ["make", "-s", target], cwd=ROOT, env=base_env(REDIS_URL=redis_server.url), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert f"Redis: {redis_server.url}" in result.stderr  # which queue it is looking at
