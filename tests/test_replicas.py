"""Two API replicas sharing one PostgreSQL (DATABASE_URL): one set of users, tokens and revocations."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.support.api import Api, api_environment, start_api
from tests.support.servers import start_postgres


@pytest.fixture(scope="module")
def postgres(logs_dir):
    server = start_postgres(logs_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replicas(postgres, tmp_path_factory, logs_dir, redis_server, mongo_uri):
    shared = {
        "DATABASE_URL": postgres.create_database("pets_replicas"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # one key for all replicas (a Secret)
    }
    servers = []
    for name in ("a", "b"):
        env = api_environment(tmp_path_factory.mktemp(name), mongo_uri=mongo_uri, redis_url=redis_server.url, **shared)
        servers.append(start_api(env, logs_dir, name=f"api-replica-{name}"))
    yield servers
    for server in servers:
        server.process.stop()


def test_a_token_from_one_replica_works_on_the_other_and_a_logout_on_either_revokes_it(replicas):
    a, b = (Api(server.base_url) for server in replicas)
    tokens = a.login()
    refreshed = b.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200, refreshed.text
    assert a.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}).status_code == 401  # rotated on B
    newest = refreshed.json()["refresh"]
    assert b.post("/api/token/logout/", json={"refresh": newest}).status_code == 200
    again = a.post("/api/token/refresh/", json={"refresh": newest})
    assert again.status_code == 401 and again.json()["error"]


def test_pets_created_on_one_replica_are_listed_on_the_other_and_no_sqlite_file_is_used(replicas, pets_collection):
    a, b = (Api(server.base_url) for server in replicas)
    a.login()
    b.session.headers["Authorization"] = a.session.headers["Authorization"]  # A's access token, on B
    pet = a.create_pet(name="Shared")
    assert [listed["id"] for listed in b.get("/api/pets/").json()] == [pet["id"]]
    for server in replicas:
        assert not Path(server.env["DJANGO_SQLITE_PATH"]).exists()
