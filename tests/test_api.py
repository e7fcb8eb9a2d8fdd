"""The HTTP API through real HTTP, with real JWTs, MongoDB and Redis."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from contracts.tasks import TASKS_KEY, parse_task

SEED_PET = {"name": "Luna", "species": "Cat", "age": 3, "owner": "María García", "vaccinated": True}


def queued_tasks(redis_client) -> list[dict]:
    return [json.loads(raw) for raw in redis_client.lrange(TASKS_KEY, 0, -1)]


# --- authentication -----------------------------------------------------------------------------


def test_token_pair_for_valid_credentials(anon):
    response = anon.post("/api/token/", json={"username": "admin", "password": "admin123"})
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_token_refused_for_wrong_password(anon):
    response = anon.post("/api/token/", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["error"] == "No active account found with the given credentials"


def test_token_refresh_gives_a_working_access_token(anon):
    refresh = anon.login()["refresh"]
    response = anon.post("/api/token/refresh/", json={"refresh": refresh})
    assert response.status_code == 200
    anon.session.headers["Authorization"] = f"Bearer {response.json()['access']}"
    assert anon.get("/api/pets/").status_code == 200


def test_refresh_with_garbage_is_401_json(anon):
    response = anon.post("/api/token/refresh/", json={"refresh": "not-a-token"})
    assert response.status_code == 401
    assert response.json()["error"] == "Token is invalid"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/pets/"),
        ("POST", "/api/pets/"),
        ("GET", "/api/pets/6981fcf3dd7c1b67498baf89/"),
        ("PUT", "/api/pets/6981fcf3dd7c1b67498baf89/"),
        ("PATCH", "/api/pets/6981fcf3dd7c1b67498baf89/"),
        ("DELETE", "/api/pets/6981fcf3dd7c1b67498baf89/"),
        ("GET", "/api/redis/stats/"),
    ],
)
def test_api_requires_a_bearer_token(anon, method, path):
    response = anon.request(method, path, json=SEED_PET)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication credentials were not provided."}


def test_invalid_bearer_token_is_401_json(anon):
    anon.session.headers["Authorization"] = "Bearer abc.def.ghi"
    response = anon.get("/api/pets/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


# --- create -------------------------------------------------------------------------------------


def test_create_returns_the_seed_response_and_queues_a_task(api, redis_client):
    response = api.post("/api/pets/", json=SEED_PET)
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Pet created successfully"
    assert body["task_queued"] is True
    assert body["info"] == "Task sent to workers for processing. Enriched data will be generated."
    pet = body["pet"]
    assert {k: pet[k] for k in SEED_PET} == SEED_PET
    assert len(pet["id"]) == 24

    [task] = queued_tasks(redis_client)
    assert {k: task[k] for k in SEED_PET} == SEED_PET
    assert task["pet_id"] == pet["id"]
    assert task["reason"] == "created"
    assert task["task_id"] and task["enqueued_at"].endswith("+00:00")
    parse_task(json.dumps(task))  # the worker's parser accepts what the API produces


def test_create_trims_names_and_defaults_vaccinated_to_false(api):
    response = api.post("/api/pets/", json={"name": "  Rex  ", "species": "Dog", "age": 0, "owner": "Ana"})
    assert response.status_code == 201
    pet = response.json()["pet"]
    assert pet["name"] == "Rex"
    assert pet["vaccinated"] is False


def test_create_stores_the_pet_in_mongodb(api, pets_collection):
    pet = api.create_pet()
    [document] = list(pets_collection.find())
    assert str(document["_id"]) == pet["id"]
    assert document["species_key"] == "cat"
    assert document["name"] == "Luna"


# --- read ---------------------------------------------------------------------------------------


def test_get_one_pet(api):
    pet = api.create_pet()
    response = api.get(f"/api/pets/{pet['id']}/")
    assert response.status_code == 200
    assert response.json() == pet


@pytest.mark.parametrize("pet_id", ["6981fcf3dd7c1b67498baf89", "not-an-id", "123", "zzzzzzzzzzzzzzzzzzzzzzzz"])
def test_unknown_or_malformed_id_is_404(api, pet_id):
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = api.request(method, f"/api/pets/{pet_id}/", json={"age": 4})
        assert response.status_code == 404, method
        assert response.json() == {"error": "Pet not found"}


def test_list_is_an_array_newest_first(api):
    first = api.create_pet(name="First")
    second = api.create_pet(name="Second")
    response = api.get("/api/pets/")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [second["id"], first["id"]]
    assert response.headers["X-Total-Count"] == "2"
    assert "Link" not in response.headers


def test_species_filter_is_case_insensitive(api):
    api.create_pet(name="Luna", species="Cat")
    api.create_pet(name="Rex", species="Dog")
    api.create_pet(name="Tom", species="CAT")
    for query in ("Cat", "cat", "CAT", " cat "):
        names = {p["name"] for p in api.get("/api/pets/", params={"species": query}).json()}
        assert names == {"Luna", "Tom"}, query


def test_vaccinated_filter_and_combined_filters(api):
    api.create_pet(name="A", species="Cat", vaccinated=True)
    api.create_pet(name="B", species="Cat", vaccinated=False)
    api.create_pet(name="C", species="Dog", vaccinated=False)
    assert {p["name"] for p in api.get("/api/pets/?vaccinated=true").json()} == {"A"}
    assert {p["name"] for p in api.get("/api/pets/?vaccinated=false").json()} == {"B", "C"}
    assert {p["name"] for p in api.get("/api/pets/?species=Cat&vaccinated=false").json()} == {"B"}


def test_pagination_with_link_and_total_headers(api):
    ids = [api.create_pet(name=f"Pet{i}")["id"] for i in range(5)]
    newest_first = list(reversed(ids))

    page1 = api.get("/api/pets/?limit=2")
    assert [p["id"] for p in page1.json()] == newest_first[:2]
    assert page1.headers["X-Total-Count"] == "5"
    assert set(page1.links) == {"next"}
    next_url = page1.links["next"]["url"]
    query = parse_qs(urlparse(next_url).query)
    assert query["limit"] == ["2"] and set(query) == {"limit", "cursor"}  # keyset: a cursor, not an offset

    page2 = api.session.get(next_url)
    assert [p["id"] for p in page2.json()] == newest_first[2:4]
    assert set(page2.links) == {"next"}

    page3 = api.session.get(page2.links["next"]["url"])
    assert [p["id"] for p in page3.json()] == newest_first[4:]
    assert "Link" not in page3.headers
    # The original Pet App's offsets still work.
    assert [p["id"] for p in api.get("/api/pets/?limit=2&offset=2").json()] == newest_first[2:4]


def test_counts_follow_creates_updates_and_deletes(api):
    """X-Total-Count is kept in Redis, not counted per request: every write must keep it right."""
    cat = api.create_pet(species="Cat", vaccinated=True)
    api.create_pet(species="Dog", vaccinated=False)

    def total(query: str) -> int:
        return int(api.get(f"/api/pets/?{query}").headers["X-Total-Count"])

    assert (total(""), total("species=cat"), total("vaccinated=true"), total("species=cat&vaccinated=true")) == (
        2,
        1,
        1,
        1,
    )
    api.put(f"/api/pets/{cat['id']}/", json={"species": "Dog", "vaccinated": False})
    assert (total(""), total("species=cat"), total("species=dog"), total("vaccinated=false")) == (2, 0, 2, 2)
    api.delete(f"/api/pets/{cat['id']}/")
    assert (total(""), total("species=dog"), total("vaccinated=false")) == (1, 1, 1)


def test_a_forged_cursor_is_a_400(api):
    response = api.get("/api/pets/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert response.json()["fields"]["cursor"] == ["Invalid cursor: use the one a Link header gave."]


# --- update and delete --------------------------------------------------------------------------


def test_put_is_partial_as_in_the_seed(api):
    pet = api.create_pet()
    response = api.put(f"/api/pets/{pet['id']}/", json={"age": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Pet updated successfully"
    assert body["pet"]["age"] == 4 and body["pet"]["name"] == "Luna"
    assert api.get(f"/api/pets/{pet['id']}/").json()["age"] == 4


def test_patch_updates_and_species_change_queues_a_new_task(api, redis_client):
    pet = api.create_pet()
    redis_client.delete(TASKS_KEY)
    response = api.patch(f"/api/pets/{pet['id']}/", json={"species": "Dog"})
    assert response.status_code == 200
    assert response.json()["task_queued"] is True
    [task] = queued_tasks(redis_client)
    assert task["species"] == "Dog" and task["reason"] == "updated" and task["pet_id"] == pet["id"]
    assert api.get("/api/pets/?species=dog").json()[0]["id"] == pet["id"]


def test_update_of_owner_only_queues_nothing(api, redis_client):
    pet = api.create_pet()
    redis_client.delete(TASKS_KEY)
    response = api.put(f"/api/pets/{pet['id']}/", json={"owner": "Someone Else"})
    assert response.status_code == 200
    assert "task_queued" not in response.json()
    assert redis_client.llen(TASKS_KEY) == 0


def test_update_ignores_read_only_fields_sent_back(api):
    pet = api.create_pet()
    response = api.put(f"/api/pets/{pet['id']}/", json={**pet, "age": 9})
    assert response.status_code == 200
    assert response.json()["pet"]["id"] == pet["id"]
    assert response.json()["pet"]["age"] == 9


def test_delete(api):
    pet = api.create_pet()
    response = api.delete(f"/api/pets/{pet['id']}/")
    assert response.status_code == 200
    assert response.json() == {"message": "Pet deleted successfully"}
    for gone in (api.get(f"/api/pets/{pet['id']}/"), api.delete(f"/api/pets/{pet['id']}/")):
        assert (gone.status_code, gone.json()) == (404, {"error": "Pet not found"})


# --- Redis stats, schema, docs ------------------------------------------------------------------


def test_redis_stats_has_the_seed_fields(api, redis_server):
    api.create_pet()
    api.create_pet()
    response = api.get("/api/redis/stats/")
    assert response.status_code == 200
    stats = response.json()
    assert stats["queue_name"] == "pets:tasks"
    assert stats["pending_tasks"] == 2
    assert stats["redis_host"] == "127.0.0.1"
    assert stats["redis_port"] == redis_server.port
    assert stats["connected_clients"] >= 1
    assert stats["total_commands_processed"] > 0
    assert stats["processing_tasks"] == 0 and stats["dead_letter_tasks"] == 0


def test_openapi_schema_documents_every_endpoint(anon):
    response = anon.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/pets/",
        "/api/pets/{pet_id}/",
        "/api/redis/stats/",
        "/api/token/",
        "/api/token/refresh/",
    }
    assert set(paths["/api/pets/"]) >= {"get", "post"}
    assert set(paths["/api/pets/{pet_id}/"]) >= {"get", "put", "patch", "delete"}
    list_params = {p["name"] for p in paths["/api/pets/"]["get"]["parameters"]}
    assert list_params >= {"species", "vaccinated", "limit", "offset"}
    assert "201" in paths["/api/pets/"]["post"]["responses"]
    assert "404" in paths["/api/pets/{pet_id}/"]["get"]["responses"]


def test_interactive_docs_are_served_without_external_assets(anon):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
    assert "cdn.jsdelivr" not in response.text


def test_health_endpoints_are_public(anon):
    assert anon.get("/health/").json() == {"status": "ok"}
    ready = anon.get("/health/ready/")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"mongodb": "ok", "redis": "ok"}}
