"""Login throttling, token rotation and logout, CORS, headers and production settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.api import ADMIN_PASSWORD, Api, api_environment, start_api
from tests.support.processes import ROOT, base_env


@pytest.fixture(scope="module")
def guarded_api(tmp_path_factory, logs_dir, mongo_uri, redis_server):
    env = api_environment(
        tmp_path_factory.mktemp("guarded"),
        mongo_uri=mongo_uri,
        redis_url=redis_server.url,
        LOGIN_MAX_FAILURES_PER_USER="3",
        LOGIN_MAX_FAILURES_PER_CLIENT="6",
        LOGIN_FAILURE_WINDOW_SECONDS="60",
        DJANGO_CORS_ALLOWED_ORIGINS="https://pets.example",
        JWT_ACCESS_MINUTES="5",
    )
    server = start_api(env, logs_dir, "api-guarded")
    yield server
    server.process.stop()


def login(api: Api, username: str, password: str):
    return api.post("/api/token/", json={"username": username, "password": password})


def test_repeated_failures_for_one_username_are_throttled(guarded_api, redis_client):
    api = Api(guarded_api.base_url)
    statuses = [login(api, "admin", "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = login(api, "admin", ADMIN_PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.json()["error"].startswith("Too many failed logins")
    assert 0 < int(blocked.headers["Retry-After"]) <= 60


def test_repeated_failures_from_one_client_are_throttled_across_usernames(guarded_api, redis_client):
    api = Api(guarded_api.base_url)
    statuses = [login(api, f"user{i}", "wrong").status_code for i in range(7)]
    assert statuses == [401] * 6 + [429]


def test_successful_logins_are_not_counted(guarded_api, redis_client):
    api = Api(guarded_api.base_url)
    assert all(login(api, "admin", ADMIN_PASSWORD).status_code == 200 for _ in range(8))


def test_refresh_rotates_and_the_old_refresh_token_is_revoked(api):
    refresh = api.login()["refresh"]
    first = api.post("/api/token/refresh/", json={"refresh": refresh})
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"} and first.json()["refresh"] != refresh
    reused = api.post("/api/token/refresh/", json={"refresh": refresh})
    assert reused.status_code == 401
    assert reused.json()["error"] == "Token is blacklisted"


def test_logout_revokes_the_refresh_token(api):
    refresh = api.login()["refresh"]
    response = api.post("/api/token/logout/", json={"refresh": refresh})
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out"}
    assert api.post("/api/token/refresh/", json={"refresh": refresh}).status_code == 401
    assert api.post("/api/token/logout/", json={"refresh": refresh}).status_code == 401
    assert api.post("/api/token/logout/", json={}).status_code == 400


def test_cors_is_closed_by_default(api):
    preflight = api.request(
        "OPTIONS",
        "/api/pets/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_opens_only_to_configured_origins(guarded_api):
    api = Api(guarded_api.base_url)
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = api.request("OPTIONS", "/api/pets/", headers={"Origin": "https://pets.example", **headers})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://pets.example"
    other = api.request("OPTIONS", "/api/pets/", headers={"Origin": "https://evil.example", **headers})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_security_headers(anon):
    page = anon.get("/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self' covers it
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    api = anon.get("/api/pets/")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def django_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=base_env(DJANGO_SQLITE_PATH=str(tmp_path / "db.sqlite3"), **env),
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ENV": "production", "DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"DJANGO_ENV": "staging", "DJANGO_SECRET_KEY": "x" * 50}, "DJANGO_ENV must be"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, env, message):
    result = django_check(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_real_key(tmp_path):
    assert django_check(tmp_path, DJANGO_ENV="production", DJANGO_SECRET_KEY="k" * 50).returncode == 0
