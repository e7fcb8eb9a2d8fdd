"""Bad input gets a clear 4xx JSON error and changes nothing: no pet stored, no task queued."""

from __future__ import annotations

import pytest

from contracts.tasks import TASKS_KEY

VALID = {"name": "Luna", "species": "Cat", "age": 3, "owner": "María García", "vaccinated": True}


def with_(**changes):
    body = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


BAD_BODIES = {
    "missing name": (with_(name=...), "name"),
    "missing species": (with_(species=...), "species"),
    "missing age": (with_(age=...), "age"),
    "missing owner": (with_(owner=...), "owner"),
    "empty name": (with_(name=""), "name"),
    "blank name": (with_(name="   "), "name"),
    "name 5000 chars": (with_(name="x" * 5000), "name"),
    "name 101 chars": (with_(name="x" * 101), "name"),
    "species 51 chars": (with_(species="x" * 51), "species"),
    "owner 101 chars": (with_(owner="x" * 101), "owner"),
    "name is a number": (with_(name=123), "name"),
    "name is an operator object": (with_(name={"$gt": ""}), "name"),
    "species is an operator object": (with_(species={"$ne": None}), "species"),
    "owner is a list": (with_(owner=["a"]), "owner"),
    "name with NUL": (with_(name="Lu\x00na"), "name"),
    "name with a terminal escape": (with_(name="Luna\x1b[31m"), "name"),
    "owner with a line break": (with_(owner="Ana\nGarcia"), "owner"),
    "species with a tab": (with_(species="Cat\t"), "species"),
    "age -1": (with_(age=-1), "age"),
    "age 101": (with_(age=101), "age"),
    "age 3.7": (with_(age=3.7), "age"),
    "age 3.0": (with_(age=3.0), "age"),
    "age '3.7'": (with_(age="3.7"), "age"),
    "age 'abc'": (with_(age="abc"), "age"),
    "age true": (with_(age=True), "age"),
    "age null": (with_(age=None), "age"),
    "age object": (with_(age={"$gt": 1}), "age"),
    "age huge": (with_(age=10**30), "age"),
    "vaccinated 'maybe'": (with_(vaccinated="maybe"), "vaccinated"),
    "vaccinated 1": (with_(vaccinated=1), "vaccinated"),
    "unknown field": (with_(colour="black"), "colour"),
}


@pytest.fixture
def nothing_changes(api, pets_collection, redis_client):
    before = (pets_collection.count_documents({}), redis_client.llen(TASKS_KEY))
    yield
    assert (pets_collection.count_documents({}), redis_client.llen(TASKS_KEY)) == before


@pytest.mark.parametrize("body,field", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_create_is_400_with_field_errors(api, nothing_changes, body, field):
    response = api.post("/api/pets/", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "Invalid input"
    assert field in error["fields"], error


@pytest.mark.parametrize("body,field", [b for b in BAD_BODIES.values() if b[1] != "name" or b[0].get("name")])
def test_bad_update_is_400_and_the_pet_is_unchanged(api, pets_collection, body, field):
    pet = api.create_pet()
    patch = {field: body[field]} if field in body else {field: None}
    for method in ("PUT", "PATCH"):
        response = api.request(method, f"/api/pets/{pet['id']}/", json=patch)
        assert response.status_code == 400, (method, patch, response.text)
        assert field in response.json()["fields"]
    assert api.get(f"/api/pets/{pet['id']}/").json() == pet


@pytest.mark.parametrize(
    "raw,content_type",
    [
        ('{"name": "Luna",', "application/json"),
        ("not json at all", "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_malformed_json_is_400(api, nothing_changes, raw, content_type):
    response = api.post("/api/pets/", data=raw.encode("latin-1"), headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON")


@pytest.mark.parametrize("body", [[], [VALID], "Luna", 42, None])
def test_body_that_is_not_an_object_is_400(api, nothing_changes, body):
    response = api.post("/api/pets/", json=body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_form_encoded_body_is_415(api, nothing_changes):
    response = api.post("/api/pets/", data={"name": "Luna"})
    assert response.status_code == 415
    assert "error" in response.json()


def test_oversized_body_is_rejected(api, nothing_changes):
    response = api.post("/api/pets/", json=with_(owner="x" * 200_000))
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large (limit 64 KB)"}


def test_unicode_names_are_kept_exactly(api):
    name = "Señor Bigotes 🐱 ñandú 猫 \u202eevil"
    pet = api.create_pet(name=name, owner="Zoë Łukasz")
    assert api.get(f"/api/pets/{pet['id']}/").json()["name"] == name


def test_empty_update_is_400(api):
    pet = api.create_pet()
    response = api.put(f"/api/pets/{pet['id']}/", json={})
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        "vaccinated=maybe",
        "vaccinated=1",
        "vaccinated=",
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=100000",
        "offset=-5",
        "offset=x",
        "species=" + "x" * 51,
    ],
)
def test_bad_list_parameters_are_400(api, query):
    api.create_pet()
    response = api.get(f"/api/pets/?{query}")
    assert response.status_code == 400, query
    assert response.json()["error"] == "Invalid input"


@pytest.mark.parametrize("species", ['{"$gt": ""}', ".*", "^C", "[", "Cat' || '1'=='1"])
def test_operator_and_regex_shaped_filters_match_literally(api, species):
    api.create_pet(species="Cat")
    response = api.get("/api/pets/", params={"species": species})
    assert response.status_code == 200
    assert response.json() == []


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert "error" in response.json()
