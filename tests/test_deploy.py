"""What can be checked of the production set-up without a Docker engine.

The compose file's structure, both Dockerfiles through hadolint, the API entrypoint run natively,
and the settings' refusal to run production with a development secret.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.processes import ROOT, VENV_BIN, base_env

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CONSUMERS = ["consumer-1", "consumer-2", "consumer-3"]


def test_services_and_container_names_are_the_seeds():
    names = {service: spec["container_name"] for service, spec in SERVICES.items()}
    assert names == {
        "redis": "pets-redis",
        "mongodb": "pets-mongodb",
        "django-api": "pets-django-api",
        "consumer-1": "pets-consumer-1",
        "consumer-2": "pets-consumer-2",
        "consumer-3": "pets-consumer-3",
        "outbox-relay": "pets-outbox-relay",
    }


def test_images_persistence_and_health_checks():
    assert SERVICES["redis"]["image"] == "redis:7-alpine"
    # Every acknowledged RPUSH is on disk before Redis answers; the fault tests run Redis the same way.
    assert SERVICES["redis"]["command"] == ["redis-server", "--appendonly", "yes", "--appendfsync", "always"]
    assert SERVICES["mongodb"]["image"] == "mongo:7.0"
    assert "mongo_data:/data/db" in SERVICES["mongodb"]["volumes"]
    for service in ("redis", "mongodb"):
        assert SERVICES[service]["healthcheck"]["test"]


def test_outbox_relay_runs_the_relay_with_the_apis_settings():
    relay, api = SERVICES["outbox-relay"], SERVICES["django-api"]
    assert relay["command"] == ["python", "manage.py", "relay_outbox"]
    # The key reaches both the same way, given in .env or generated in the shared volume.
    for name in ("MONGODB_URI", "REDIS_HOST", "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", "DJANGO_SQLITE_PATH"):
        assert relay["environment"][name] == api["environment"][name]
    assert "api_data:/app/data" in relay["volumes"]
    assert relay["image"] == api["image"] and "build" not in relay  # one image, built once
    # A real health check (`up --wait` needs one on every service): the heartbeat the relay touches.
    heartbeat = relay["environment"]["OUTBOX_RELAY_HEARTBEAT_FILE"]
    assert relay["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "pets.heartbeat_file"]
    assert relay["healthcheck"]["test"][4] == heartbeat


def test_every_service_has_a_health_check_and_named_images_are_built_once():
    for name, spec in SERVICES.items():
        assert spec.get("healthcheck", {}).get("disable") is not True, name
        assert "healthcheck" in spec or name.startswith(("django-api", "consumer-")), name  # theirs: in the image
    built = [spec["image"] for spec in SERVICES.values() if "build" in spec]
    assert sorted(built) == ["pets-api:${PETS_IMAGE_TAG:-latest}", "pets-consumer:${PETS_IMAGE_TAG:-latest}"]
    for spec in SERVICES.values():
        if spec["image"] in built and "build" not in spec:
            assert spec["pull_policy"] == "never"  # never looked for in a registry


def test_host_ports_are_settable_and_the_service_name_is_always_an_allowed_host():
    assert SERVICES["redis"]["ports"] == ["127.0.0.1:${REDIS_HOST_PORT:-6379}:6379"]
    assert SERVICES["mongodb"]["ports"] == ["127.0.0.1:${MONGODB_HOST_PORT:-27017}:27017"]
    assert SERVICES["django-api"]["ports"] == ["127.0.0.1:${API_PORT:-8000}:8000"]
    assert SERVICES["django-api"]["environment"]["DJANGO_ALLOWED_HOSTS"].endswith("},django-api")
    # Every volume an image declares is named, so `down` leaves no anonymous one behind.
    assert "mongo_config:/data/configdb" in SERVICES["mongodb"]["volumes"]


def test_api_waits_for_healthy_services_and_shares_processed_data():
    api = SERVICES["django-api"]
    assert api["depends_on"] == {"redis": {"condition": "service_healthy"}, "mongodb": {"condition": "service_healthy"}}
    assert "processed_data:/app/processed_data" in api["volumes"]
    assert api["environment"]["DJANGO_DEBUG"] == "false"
    assert api["environment"]["MONGODB_URI"].startswith("mongodb://mongodb:27017/pets_database")


@pytest.mark.parametrize("name", CONSUMERS)
def test_consumers(name):
    consumer = SERVICES[name]
    assert consumer["image"] == "pets-consumer:${PETS_IMAGE_TAG:-latest}"
    assert consumer["restart"] == "unless-stopped"
    assert consumer["environment"]["CONSUMER_ID"] == name[-1]
    assert consumer["environment"]["REDIS_HOST"] == "redis"
    assert "processed_data:/app/processed_data" in consumer["volumes"]
    assert consumer["depends_on"]["redis"]["condition"] == "service_healthy"
    # Results are recorded in MongoDB (contracts/results.py): the consumers need it too.
    assert consumer["environment"]["MONGODB_URI"] == SERVICES["django-api"]["environment"]["MONGODB_URI"]
    assert consumer["depends_on"]["mongodb"]["condition"] == "service_healthy"


def test_volumes_network_and_loopback_ports():
    assert set(COMPOSE["volumes"]) >= {"mongo_data", "processed_data"}
    assert "pets-network" in COMPOSE["networks"]
    for name, spec in SERVICES.items():
        assert spec["networks"] == ["pets-network"], name
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_dockerfiles_pass_hadolint():
    result = subprocess.run(
        [str(VENV_BIN / "hadolint"), "Dockerfile", "Dockerfile.consumer"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfiles_run_as_non_root_with_exec_form_commands():
    for dockerfile in ("Dockerfile", "Dockerfile.consumer"):
        lines = (ROOT / dockerfile).read_text().splitlines()
        assert any(line.startswith("USER ") and "root" not in line for line in lines), dockerfile
        cmd = next(line for line in lines if line.startswith("CMD "))
        assert cmd.startswith("CMD ["), dockerfile


def test_consumer_image_gets_no_django():
    consumer = (ROOT / "Dockerfile.consumer").read_text()
    assert "requirements-worker.txt" in consumer and "requirements.txt" not in consumer.replace(
        "requirements-worker.txt", ""
    )
    assert "django" not in (ROOT / "requirements-worker.txt").read_text().lower()
    copied = [line.split()[1] for line in consumer.splitlines() if line.startswith("COPY ")]
    assert set(copied) == {"requirements-worker.txt", "consumer.py", "contracts/", "infra/", "queue_tools/", "worker/"}


def test_api_image_copies_only_what_runs():
    api = (ROOT / "Dockerfile").read_text()
    copied = {name for line in api.splitlines() if line.startswith("COPY ") for name in line.split()[1:-1]}
    assert copied == {
        "requirements.txt", "requirements-worker.txt", "manage.py", "gunicorn.conf.py", "docker/entrypoint.sh",
        "contracts/", "infra/", "queue_tools/", "pets/", "ops/", "pets_project/", "templates/",
    }  # fmt: skip


def test_worker_code_never_imports_django():
    probe = "import sys, consumer; print(any(m.split('.')[0] in ('django', 'pets') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "False"


def test_requirements_are_exact_pins():
    for name in ("requirements.txt", "requirements-worker.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "-r")):
                assert "==" in line, (name, line)


@pytest.fixture
def run_entrypoint(mongo_uri):
    """docker/entrypoint.sh run natively against the test database, with `python -c` as the server."""

    def run(tmp_path: Path, **env_extra: str) -> subprocess.CompletedProcess:
        return _run_entrypoint(tmp_path, MONGODB_URI=mongo_uri, **env_extra)

    return run


def _run_entrypoint(tmp_path: Path, **env_extra: str) -> subprocess.CompletedProcess:
    admin = {"DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD": "s3cret-pass"}
    env = base_env(
        DJANGO_SECRET_KEY_FILE=str(tmp_path / "data" / "secret_key"),
        DJANGO_SQLITE_PATH=str(tmp_path / "data" / "db.sqlite3"),
        **{**admin, **env_extra},
    )
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), "python", "-c", "print('command ran')"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_entrypoint_generates_a_key_once_migrates_creates_admin_and_execs(tmp_path, run_entrypoint):
    first = run_entrypoint(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "generating one" in first.stdout
    assert first.stdout.strip().endswith("command ran")
    assert "MongoDB indexes ready" in first.stdout
    key_file = tmp_path / "data" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
        assert db.execute("select is_superuser from auth_user where username='admin'").fetchone() == (1,)

    second = run_entrypoint(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "generating" not in second.stdout and "already exists" in second.stdout
    assert key_file.read_text().strip() == key  # tokens survive restarts


def test_replicas_can_leave_the_setup_to_its_own_step(tmp_path, run_entrypoint):
    skipped = run_entrypoint(tmp_path, API_RUN_SETUP="false")
    assert skipped.returncode == 0, skipped.stderr
    assert "no migrations here" in skipped.stdout and skipped.stdout.strip().endswith("command ran")
    assert not (tmp_path / "data" / "db.sqlite3").exists()
    wrong = run_entrypoint(tmp_path, API_RUN_SETUP="maybe")
    assert wrong.returncode == 2 and "API_RUN_SETUP must be true or false" in wrong.stderr


def test_manage_py_in_the_container_finds_the_generated_key(tmp_path, run_entrypoint):
    """`docker exec pets-django-api python manage.py ...` runs without the entrypoint."""
    assert run_entrypoint(tmp_path).returncode == 0
    env = base_env(
        DJANGO_SECRET_KEY_FILE=str(tmp_path / "data" / "secret_key"),
        DJANGO_SQLITE_PATH=str(tmp_path / "data" / "db.sqlite3"),
    )
    result = subprocess.run([sys.executable, "manage.py", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "django-insecure-development-only-never-use-in-production"}, "development secret key"),
        ({"DJANGO_DEBUG": "perhaps", "DJANGO_SECRET_KEY": "x" * 50}, "DJANGO_DEBUG must be true or false"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret(tmp_path, env, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=base_env(DJANGO_SQLITE_PATH=str(tmp_path / "db.sqlite3"), **env), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_development_mode_needs_no_configuration(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=base_env(DJANGO_DEBUG="true", DJANGO_SQLITE_PATH=str(tmp_path / "db.sqlite3")),
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_env_example_documents_every_setting():
    documented = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "MONGODB_URI", "REDIS_URL", "REDIS_HOST",
                 "REDIS_PORT", "CONSUMER_ID", "PROCESSED_DIR", "WIKIPEDIA_API_URL", "WIKIPEDIA_USER_AGENT", "API_PORT",
                 "JWT_ACCESS_MINUTES", "JWT_REFRESH_DAYS", "DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD",
                 "DJANGO_SUPERUSER_EMAIL"):  # fmt: skip
        assert name in documented, name


def test_env_example_documents_every_variable_compose_reads():
    read = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - documented == set()


def test_redis_server_binary_is_available():
    assert shutil.which("redis-server"), "make test installs redis-server (scripts/ensure-system-packages.sh)"
