"""The API's views in process (Django's test client, a real JWT): bodies match their serializers,
errors are JSON from the one exception handler."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import free_port

LUNA = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": True}


@pytest.fixture(scope="module")
def access_token(django_ready) -> str:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user = get_user_model().objects.create_user(username="unit", password="unit-password")
    return str(AccessToken.for_user(user))


@pytest.fixture
def authorized(client, access_token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def documented(serializer_class, body: dict) -> None:
    """`body`, as a client receives it, is what `serializer_class` documents: no other field, all required ones."""
    fields = serializer_class().fields
    assert set(body) <= set(fields), f"undocumented: {set(body) - set(fields)}"
    assert {name for name, field in fields.items() if field.required} <= set(body)
    assert set(body["pet"]) == set(fields["pet"].fields)


def test_create_and_update_bodies_are_the_documented_ones(pets_db, authorized):
    from pets.serializers import PetCreatedSerializer, PetUpdatedSerializer

    created = authorized.post("/api/pets/", LUNA, format="json")
    assert created.status_code == 201
    body = json.loads(created.content)
    documented(PetCreatedSerializer, body)
    assert body["task_queued"] is True and body["info"]
    pet_id = body["pet"]["id"]
    updated = json.loads(authorized.patch(f"/api/pets/{pet_id}/", {"age": 4}, format="json").content)
    documented(PetUpdatedSerializer, updated)
    unchanged = json.loads(authorized.patch(f"/api/pets/{pet_id}/", {"owner": "Bea"}, format="json").content)
    documented(PetUpdatedSerializer, unchanged)
    assert "task_queued" not in unchanged  # nothing enrichment depends on changed


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html, application/json;q=0.9"])
def test_json_is_what_every_client_accepting_it_gets(pets_db, authorized, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = authorized.get("/api/pets/", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_client_accepting_only_html_gets_a_406_json(pets_db, authorized):
    response = authorized.get("/api/pets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert json.loads(response.content) == {"error": "Could not satisfy the request Accept header."}


def test_redis_down_is_a_503_json_from_the_exception_handler(authorized, monkeypatch):
    from pets import redis_client

    monkeypatch.setattr(redis_client, "_client", redis_client.connect(f"redis://127.0.0.1:{free_port()}/0"))
    response = authorized.get("/api/redis/stats/")
    assert response.status_code == 503
    assert json.loads(response.content)["error"].startswith("Redis unavailable: ")


def test_an_unknown_pet_is_a_404_json(pets_db, authorized):
    for path in ("/api/pets/000000000000000000000000/", "/api/pets/not-an-id/enrichment/"):
        response = authorized.get(path)
        assert (response.status_code, json.loads(response.content)) == (404, {"error": "Pet not found"})


def test_each_pet_says_where_its_enrichment_stands(pets_db, authorized, redis_client):
    from contracts.tasks import parse_task
    from worker.broker import Finished, TaskQueue

    first = json.loads(authorized.post("/api/pets/", LUNA, format="json").content)["pet"]
    second = json.loads(authorized.post("/api/pets/", LUNA | {"name": "Sol"}, format="json").content)["pet"]
    assert first["enrichment_status"] == second["enrichment_status"] == "queued"
    # A worker finishes the first pet's task.
    worker = TaskQueue(redis_client, "Consumer-1")
    taken = {parse_task(raw).pet_id: raw for raw in worker.take(1, limit=10)}
    raw = taken[first["id"]]
    worker.start([(raw, parse_task(raw))])
    worker.complete([Finished(raw, parse_task(raw), "file.json", None)])
    listed = {pet["id"]: pet["enrichment_status"] for pet in json.loads(authorized.get("/api/pets/").content)}
    assert listed == {first["id"]: "done", second["id"]: "queued"}  # taken, but its work not started
    detail = json.loads(authorized.get(f"/api/pets/{first['id']}/").content)
    assert detail["enrichment_status"] == "done"
    renamed = json.loads(authorized.patch(f"/api/pets/{first['id']}/", {"name": "Luna B"}, format="json").content)
    assert renamed["pet"]["enrichment_status"] == "done"  # a new name is not re-enriched
    older = json.loads(authorized.patch(f"/api/pets/{first['id']}/", {"age": 9}, format="json").content)
    assert older["pet"]["enrichment_status"] == "queued"


def test_enrichment_status_is_null_when_the_queue_cannot_say(pets_db, authorized, monkeypatch):
    from pets import redis_client

    authorized.post("/api/pets/", LUNA, format="json")
    monkeypatch.setattr(redis_client, "_client", redis_client.connect(f"redis://127.0.0.1:{free_port()}/0"))
    [pet] = json.loads(authorized.get("/api/pets/").content)
    assert pet["enrichment_status"] is None


def test_metrics_are_off_without_a_token(client):
    from django.test import override_settings

    with override_settings(METRICS_TOKEN=""):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert (response.status_code, json.loads(response.content)) == (404, {"error": "Not found"})


def test_a_create_or_update_queues_its_task_with_the_priority_asked(pets_db, authorized, redis_client):
    from contracts.tasks import QUEUE_KEYS, parse_task

    created = authorized.post("/api/pets/", LUNA | {"priority": "high"}, format="json")
    assert created.status_code == 201
    pet_id = json.loads(created.content)["pet"]["id"]
    assert "priority" not in json.loads(created.content)["pet"]  # a property of the task, not of the pet
    [raw] = redis_client.lrange(QUEUE_KEYS["high"], 0, -1)
    assert parse_task(raw).pet_id == pet_id
    assert authorized.patch(f"/api/pets/{pet_id}/", {"age": 9, "priority": "low"}, format="json").status_code == 200
    [raw] = redis_client.lrange(QUEUE_KEYS["low"], 0, -1)
    assert parse_task(raw).age == 9 and parse_task(raw).priority == "low"
    assert authorized.post("/api/pets/", LUNA, format="json").status_code == 201
    assert redis_client.llen(QUEUE_KEYS["normal"]) == 1  # left out: normal


@pytest.mark.parametrize("priority", ["urgent", "HIGH", 1, None, ["high"]])
def test_an_unknown_priority_is_a_400_that_changes_nothing(pets_db, authorized, redis_client, priority):
    response = authorized.post("/api/pets/", LUNA | {"priority": priority}, format="json")
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["error"] == "Invalid input" and "priority" in body["fields"]
    assert pets_db.count_documents({}) == 0 and redis_client.dbsize() == 0


def test_a_verified_token_is_remembered_only_until_it_expires(pets_db, client, access_token):
    import time
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(get_user_model().objects.get(username="unit"))
    token.set_exp(lifetime=timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/pets/").status_code == 200
    assert client.get("/api/pets/").status_code == 200  # from the cache of verified tokens
    time.sleep(1.1)
    expired = client.get("/api/pets/")
    assert expired.status_code == 401
    assert json.loads(expired.content) == {"error": "Token is expired", "code": "token_not_valid"}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {str(token)[:-2]}xx")  # a forged signature
    assert client.get("/api/pets/").status_code == 401


def test_each_input_serializer_binds_its_own_copies_of_the_declared_fields(django_ready):
    from pets.serializers import PetInputSerializer

    first, second = PetInputSerializer(data=LUNA), PetInputSerializer(data={"age": 4}, partial=True)
    for name, declared in PetInputSerializer._declared_fields.items():
        assert first.fields[name] is not second.fields[name] is not declared
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert getattr(declared, "parent", None) is None  # the declared field is never bound
    assert first.is_valid() and first.validated_data == LUNA
    assert second.is_valid() and second.validated_data == {"age": 4}  # partial reached the copies
    invalid = PetInputSerializer(data=dict(LUNA, name="x" * 101, age=-1))
    assert not invalid.is_valid() and set(invalid.errors) == {"name", "age"}


def test_text_fields_refuse_exactly_unicode_s_control_characters(django_ready):
    import sys
    import unicodedata

    from pets.serializers import CONTROL_CHARACTER, PetInputSerializer

    refused = {code for code in range(sys.maxunicode + 1) if CONTROL_CHARACTER.search(chr(code))}
    assert refused == {code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cc"}
    for name, valid in (("Lu\x85na", False), ("Lu\x7fna", False), ("Lu\u200bna", True), ("Lúna 🐈", True)):
        assert PetInputSerializer(data=dict(LUNA, name=name)).is_valid() is valid, repr(name)
