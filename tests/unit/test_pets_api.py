"""The API's views in process (Django's test client, a real JWT): bodies match their serializers,
errors are JSON from the one exception handler."""

from __future__ import annotations

import json

import pytest
import redis

from tests.support import free_port

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


def test_redis_down_is_a_503_json_from_the_exception_handler(authorized, monkeypatch):
    from pets import redis_client

    monkeypatch.setattr(redis_client, "_client", redis.Redis(port=free_port(), socket_connect_timeout=0.2))
    response = authorized.get("/api/redis/stats/")
    assert response.status_code == 503
    assert json.loads(response.content)["error"].startswith("Redis unavailable: ")


def test_an_unknown_pet_is_a_404_json(pets_db, authorized):
    for path in ("/api/pets/000000000000000000000000/", "/api/pets/not-an-id/enrichment/"):
        response = authorized.get(path)
        assert (response.status_code, json.loads(response.content)) == (404, {"error": "Pet not found"})
