"""The MongoDB side: indexes are made before the API serves, never by request threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest

from contracts.results import RESULTS_COLLECTION
from tests.support.api import Api, api_environment, start_api
from tests.support.processes import VENV_BIN, Process, base_env, free_port, wait_until


@pytest.fixture
def fresh_database(tmp_path, logs_dir):
    port = free_port()
    process = Process(
        "fresh-secantusdb",
        [str(VENV_BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(tmp_path / "mongo"), "--log-level", "WARNING"],
        base_env(),
        logs_dir,
    )  # fmt: skip
    uri = f"mongodb://127.0.0.1:{port}/pets_database?retryWrites=false"
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    wait_until(lambda: client.admin.command("ping"), timeout=30)
    yield uri, client
    client.close()
    process.stop()


def test_concurrent_first_requests_on_a_fresh_database(fresh_database, tmp_path, logs_dir, redis_server):
    """Lazy index creation by many request threads at once stalled SecantusDB: never again."""
    uri, client = fresh_database
    server = start_api(api_environment(tmp_path, mongo_uri=uri, redis_url=redis_server.url), logs_dir, "api-fresh")
    try:
        indexes = client.get_default_database()["pet"].index_information()
        assert set(indexes) == {
            "_id_",
            "species_key_1_vaccinated_1_created_at_-1",
            "species_key_1_created_at_-1",
            "vaccinated_1_created_at_-1",
            "created_at_-1",
            "outbox_due_at_1",
        }
        results = client.get_default_database()[RESULTS_COLLECTION].index_information()
        assert set(results) == {"_id_", "pet_id_1_enqueued_at_-1"}
        api = Api(server.base_url)
        api.login()
        pet = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana"}
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: api.post("/api/pets/", json=pet, timeout=20).status_code, range(30)))
        assert statuses == [201] * 30
        assert api.get("/api/pets/?species=cat").headers["X-Total-Count"] == "30"
    finally:
        server.process.stop()
