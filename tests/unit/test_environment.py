"""Configuration: one reader for both sides, errors that name the variable, every name documented."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

from infra.environment import ConfigError, Environment
from tests.support.processes import ROOT, base_env
from worker.config import WorkerSettings

# Where the project reads its environment (tests and the benchmark set variables, they do not read them).
SOURCES = [
    "consumer.py",
    "manage.py",
    "gunicorn.conf.py",
    "pets_project",
    "pets",
    "ops",
    "worker",
    "contracts",
    "infra",
    "queue_tools",
    "scripts",
]
READER_METHODS = {"raw", "text", "integer", "number", "flag", "items", "choice"}
ENVIRON_NAMES = {"environ", "env", "source"}
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")


def python_files():
    for entry in SOURCES:
        path = ROOT / entry
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def variables_read(tree: ast.AST) -> set[str]:
    """Names passed to the reader (`env.integer("X", ...)`), `os.environ.get("X")`, `os.getenv("X")`
    and `os.environ["X"]`."""
    found = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            method, receiver = node.func.attr, receiver_name(node.func.value)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if method in READER_METHODS or method == "getenv" or (method == "get" and receiver in ENVIRON_NAMES):
                    name = first.value
        elif (  # a read, not a store: a WSGI environ is built with the same syntax
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and receiver_name(node.value) in ENVIRON_NAMES
        ):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                name = node.slice.value
        if name and VARIABLE.match(name):
            found.add(name)
    return found


def documented() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_every_variable_the_code_reads_is_in_env_example():
    read = set()
    for path in python_files():
        read |= variables_read(ast.parse(path.read_text(), filename=str(path)))
    assert {"TASK_MAX_ATTEMPTS", "DJANGO_SECRET_KEY", "REDIS_HOST", "API_THREADS", "WEB_CONCURRENCY"} <= read  # found
    missing = sorted(read - documented())
    assert not missing, f"read by the code but not documented in .env.example: {missing}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASK_MAX_ATTEMPTS", "five", "TASK_MAX_ATTEMPTS must be a whole number, not 'five'"),
        ("TASK_MAX_ATTEMPTS", "0", "TASK_MAX_ATTEMPTS must be at least 1, not 0"),
        ("CONSUMER_POLL_SECONDS", "nan", "CONSUMER_POLL_SECONDS must be a finite number, not 'nan'"),
        ("REDIS_PORT", "63 79", "REDIS_PORT must be a whole number, not '63 79'"),
    ],
)
def test_worker_settings_name_the_bad_variable(variable, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        WorkerSettings.from_env({"REDIS_HOST": "redis", variable: value})


def test_blank_means_the_default_and_values_are_stripped():
    env = Environment({"A_NUMBER": "  ", "A_FLAG": " Yes ", "A_LIST": "a, ,b,"})
    assert env.integer("A_NUMBER", 7) == 7 and env.flag("A_FLAG", False) is True
    assert env.items("A_LIST") == ["a", "b"]
    with pytest.raises(ConfigError, match="A_FLAG must be true or false"):
        Environment({"A_FLAG": "maybe"}).flag("A_FLAG", False)


def run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=base_env(**env), capture_output=True, text=True, timeout=60)


def test_a_bad_api_setting_stops_django_with_the_variable_named():
    result = run([sys.executable, "manage.py", "check"], DJANGO_DEBUG="true", JWT_ACCESS_MINUTES="an hour")
    assert result.returncode != 0
    assert "JWT_ACCESS_MINUTES must be a whole number, not 'an hour'" in result.stderr


def test_a_bad_worker_setting_stops_the_consumer_in_one_line():
    result = run([sys.executable, "consumer.py"], TASK_RETRY_BASE_SECONDS="soon")
    assert result.returncode == 2
    assert result.stderr.strip() == "consumer.py: TASK_RETRY_BASE_SECONDS must be a number, not 'soon'"


@pytest.mark.parametrize(
    "code",
    [
        "import worker.metrics as m; m.TASKS.labels('done').inc()",
        "import django; django.setup(); import pets.metrics as m; m.REQUESTS.labels('r', 'GET', '200').inc()",
    ],
    ids=["consumer", "api"],
)
def test_a_blank_prometheus_multiproc_dir_writes_nothing_into_the_working_directory(tmp_path, code):
    """prometheus-client takes `PROMETHEUS_MULTIPROC_DIR=` (as .env.example has it) for the working
    directory and fills it with .db files; both sides drop the blank value first."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "PROMETHEUS_MULTIPROC_DIR": "",
        "DJANGO_SETTINGS_MODULE": "pets_project.settings",
        "DJANGO_SECRET_KEY": "a-secret-for-this-test-only-" + "x" * 30,
        "DJANGO_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=60)
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix == ".db") == []
