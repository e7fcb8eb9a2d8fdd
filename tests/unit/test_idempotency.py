"""pets/idempotency.py in process: every way a key can be refused, and what each leaves behind."""

from __future__ import annotations

import pytest

LUNA = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": True}


@pytest.fixture
def authorized(client, django_ready):
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user, _ = get_user_model().objects.get_or_create(username="idempotent")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def create(client, body: dict, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post("/api/pets/", body, format="json", **headers)


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, " padded", "padded ", "tab\there", "bell\x07", "clé"],
    ids=["empty", "256 characters", "leading space", "trailing space", "tab", "control", "not ASCII"],
)
def test_a_malformed_key_is_a_400_naming_the_header_and_creates_nothing(pets_db, authorized, key):
    response = create(authorized, LUNA, key)
    assert response.status_code == 400
    assert response.json()["fields"]["Idempotency-Key"]
    assert pets_db.count_documents({}) == 0


def test_the_same_key_with_another_body_is_a_422_and_creates_nothing(pets_db, authorized):
    assert create(authorized, LUNA, "k-422").status_code == 201
    response = create(authorized, LUNA | {"age": 4}, "k-422")
    assert response.status_code == 422
    assert "different request body" in response.json()["error"]
    assert pets_db.count_documents({}) == 1


def test_an_invalid_body_claims_no_key_so_the_fixed_request_goes_through(pets_db, authorized):
    assert create(authorized, LUNA | {"age": "old"}, "k-fix").status_code == 400
    fixed = create(authorized, LUNA, "k-fix")
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_a_create_that_fails_releases_its_key(pets_db, authorized, monkeypatch):
    from pymongo.errors import ServerSelectionTimeoutError

    from pets import services

    def database_down(**fields):
        raise ServerSelectionTimeoutError("down")

    monkeypatch.setattr(services, "pet_create", database_down)
    assert create(authorized, LUNA, "k-retry").status_code == 503
    monkeypatch.undo()
    assert create(authorized, LUNA, "k-retry").status_code == 201  # the retry is not "in progress"
    assert pets_db.count_documents({}) == 1


def test_the_answer_is_kept_for_the_configured_time_and_a_key_in_progress_for_its_lock(
    pets_db, authorized, redis_server, monkeypatch
):
    from django.conf import settings

    from pets.idempotency import KEY_PREFIX

    monkeypatch.setattr(settings, "IDEMPOTENCY_KEY_TTL_SECONDS", 120)
    assert create(authorized, LUNA, "k-ttl").status_code == 201
    client = redis_server.client()
    [entry] = client.keys(KEY_PREFIX + "*")
    assert 0 < client.ttl(entry) <= 120
    client.set(entry, b'{"state": "in_progress", "fingerprint": "x"}')  # another body in progress
    assert create(authorized, LUNA, "k-ttl").status_code == 422


def test_without_redis_a_keyed_create_is_refused_and_an_unkeyed_one_is_not(pets_db, authorized, monkeypatch):
    import redis

    from pets import idempotency

    class Down:
        def set(self, *args, **kwargs):
            raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(idempotency, "get_redis", lambda: Down())
    refused = create(authorized, LUNA, "k-down")
    assert refused.status_code == 503 and "Redis" in refused.json()["error"]
    assert pets_db.count_documents({}) == 0
