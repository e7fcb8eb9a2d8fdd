"""The whole system: the API and three consumer processes, followed from POST to file and page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contracts.results import RESULTS_COLLECTION
from contracts.tasks import TASKS_KEY
from tests.support.processes import ROOT, Process, base_env, stop_all, wait_until
from tests.support.wikipedia import WIKIPEDIA_PREFIX, answer_slowly, summary_json

pytestmark = pytest.mark.e2e

SPECIES = ["Cat", "Dog", "Rabbit", "Hamster", "Parrot", "Turtle", "Horse", "Ferret", "Guinea pig", "Fish"]


@pytest.fixture
def three_consumers(api_server, redis_server, mongo_uri, wikipedia, tmp_path):
    """Consumer-1..3 writing into the folder the API reads, as in docker compose."""

    answer_slowly(wikipedia, 0.2)  # Wikipedia is not instant: work spreads over the consumers
    processes = []
    for consumer_id in ("1", "2", "3"):
        env = base_env(
            CONSUMER_ID=consumer_id,
            REDIS_URL=redis_server.url,
            MONGODB_URI=mongo_uri,
            PROCESSED_DIR=str(api_server.processed_dir),
            WIKIPEDIA_API_URL=wikipedia.url_for(WIKIPEDIA_PREFIX),
            WIKIPEDIA_CACHE_SECONDS="0",  # every task asks Wikipedia: each takes a while
        )
        processes.append(Process(f"e2e-consumer-{consumer_id}", [sys.executable, "consumer.py"], env, tmp_path))
    for process in processes:
        wait_until(lambda p=process: "Waiting for tasks" in p.output(), what=f"{process.name}")
    yield processes
    stop_all(processes)
    for process in processes:
        assert process.popen.returncode == 0, process.output()


def test_thirty_concurrent_pets_give_thirty_files_from_three_consumers(api, api_server, redis_client, three_consumers):
    pets = [
        {"name": f"Pet {i}", "species": SPECIES[i % 10], "age": i % 15, "owner": f"Owner {i}", "vaccinated": i % 2 == 0}
        for i in range(30)
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda pet: api.post("/api/pets/", json=pet), pets))
    assert [r.status_code for r in responses] == [201] * 30
    assert all(r.json()["task_queued"] for r in responses)
    created = {r.json()["pet"]["id"]: r.json()["pet"] for r in responses}

    processed: Path = api_server.processed_dir
    files = wait_until(lambda: len(list(processed.glob("*.json"))) >= 30 and list(processed.glob("*.json")), timeout=60)
    time.sleep(0.5)  # nothing more may arrive
    files = list(processed.glob("*.json"))
    assert len(files) == 30

    documents = [json.loads(path.read_text()) for path in files]
    by_pet = {doc["original_data"]["pet_id"]: doc for doc in documents}
    assert set(by_pet) == set(created)
    for pet_id, doc in by_pet.items():
        pet = created[pet_id]
        assert doc["original_data"] == {k: pet[k] for k in ("name", "species", "age", "owner", "vaccinated")} | {
            "pet_id": pet_id
        }
        assert doc["enriched_info"]["wikipedia"]["status"] == "found"
    workers = {doc["metadata"]["processed_by"] for doc in documents}
    assert workers == {"Consumer-1", "Consumer-2", "Consumer-3"}
    counts = {w: sum(d["metadata"]["processed_by"] == w for d in documents) for w in sorted(workers)}
    print(f"\n30 pets -> {len(files)} files; per consumer: {counts}")
    assert redis_client.llen(TASKS_KEY) == 0

    stats = api.get("/api/redis/stats/").json()
    assert stats["pending_tasks"] == 0 and stats["processing_tasks"] == 0
    assert stats["live_consumers"] == ["Consumer-1", "Consumer-2", "Consumer-3"]


def test_page_lists_pets_with_their_enrichment(api, anon, api_server, three_consumers):
    pet = api.create_pet(name="Mishi", species="Cat", age=2, vaccinated=False)
    wait_until(lambda: list(api_server.processed_dir.glob(f"{pet['id']}_*.json")), timeout=20)
    page = anon.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert f'data-pet-id="{pet["id"]}"' in html
    assert "Mishi" in html and "María García" in html
    assert "Enriched" in html and "URGENT: This Cat needs vaccination" in html


def test_update_produces_a_new_file_and_page_shows_it_current(api, anon, api_server, three_consumers, pets_collection):
    pet = api.create_pet(name="Rex", species="Dog", age=4)
    wait_until(lambda: len(list(api_server.processed_dir.glob(f"{pet['id']}_*.json"))) == 1, timeout=20)
    assert api.patch(f"/api/pets/{pet['id']}/", json={"age": 12}).json()["task_queued"] is True
    files = wait_until(
        lambda: len(list(api_server.processed_dir.glob(f"{pet['id']}_*.json"))) == 2 and True, timeout=20
    )
    assert files
    ages = sorted(
        json.loads(p.read_text())["statistics"]["age_category"] for p in api_server.processed_dir.glob("*.json")
    )
    assert ages == ["Adult", "Senior"]
    assert "Update pending" not in anon.get("/").text
    # The pet keeps the record of its newest task only: the update's record replaced the first.
    results = pets_collection.database[RESULTS_COLLECTION]
    wait_until(lambda: results.count_documents({"pet_id": pet["id"]}) == 1, what="the superseded record deleted")
    assert results.find_one({"pet_id": pet["id"]})["age"] == 12
    api.delete(f"/api/pets/{pet['id']}/")
    assert results.count_documents({"pet_id": pet["id"]}) == 0  # deleting a pet deletes its records


def test_enrichment_endpoint_follows_a_pet_from_queued_to_done_and_stale(api, api_server, start_consumer, wikipedia):
    pet = api.create_pet(name="Luna", species="Cat", age=3)
    missing = api.get(f"/api/pets/{pet['id']}/enrichment/")
    assert missing.status_code == 404
    assert missing.json() == {"error": "No enrichment result yet", "status": "queued"}
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_json(summary_json("Cat"))
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    done = wait_until(lambda: (r := api.get(f"/api/pets/{pet['id']}/enrichment/")).status_code == 200 and r.json())
    assert done["status"] == "done" and done["pet_id"] == pet["id"] and done["consumer"] == "Consumer-1"
    assert done["wikipedia_status"] == "found" and done["wikipedia_url"] == "https://en.wikipedia.org/wiki/Cat"
    assert done["age_category"] == "Adult" and done["health_tips"] and done["attempt"] == 1
    assert (api_server.processed_dir / done["file"]).exists()  # the file the record points to
    assert api.get(f"/api/pets/{pet['id']}/").json()["enrichment_status"] == "done"
    assert [p["enrichment_status"] for p in api.get("/api/pets/").json()] == ["done"]
    api.put(f"/api/pets/{pet['id']}/", json={"age": 12})
    after = api.get(f"/api/pets/{pet['id']}/enrichment/").json()
    assert after["status"] in {"queued", "processing", "done"}  # a new task is on its way, or already done
    assert api.get("/api/pets/6981fcf3dd7c1b67498baf89/enrichment/").json() == {"error": "Pet not found"}


def test_the_readmes_first_session_runs_as_written(api_server, three_consumers):
    """The README's "A first session with curl" block, pasted into bash against this API (its
    address and results folder for make run's): token, create, filtered list, stats, the file."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## A first session with curl\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```bash\n(.*?)```", section, re.S)
    block = block.replace("http://localhost:8000", api_server.base_url).replace(
        "ls processed_data/", f"sleep 2; ls {api_server.processed_dir}/"
    )
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"message":"Pet created successfully"' in result.stdout, result.stdout
    assert '"task_queued":true' in result.stdout and '"queue_name":"pets:tasks"' in result.stdout
    assert re.search(r"[0-9a-f]{24}_Mishi_\d{8}_\d{6}\.json\n", result.stdout), result.stdout  # from `ls`
