"""pets/services.py and pets/outbox.py in process, against the session's Redis and database."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from contracts.task_status import STATUS_KEY, TaskStatus
from contracts.tasks import TASKS_KEY, parse_task
from tests.support.processes import free_port

LUNA = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": True}


@pytest.fixture
def redis_down(monkeypatch, django_ready):
    """The API's own Redis clients, pointed at a port nobody listens on (connection refused)."""
    from pets import redis_client

    dead = redis_client.connect(f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(redis_client, "_client", dead)
    monkeypatch.setattr(redis_client, "_replica", dead)


def queued(redis_client) -> list:
    return [parse_task(raw) for raw in redis_client.lrange(TASKS_KEY, 0, -1)]


def created_pet():
    """A pet made by pet_create, loaded as the update and delete services take it."""
    from pets.selectors import pet_get
    from pets.services import pet_create

    return pet_get(str(pet_create(**LUNA).pet_id))


def test_a_created_pet_is_stored_as_its_document_class_would_store_it(pets_db, redis_client):
    from pets.models import Pet
    from pets.services import pet_create

    write = pet_create(**dict(LUNA, species="  Maine   Coon "))
    stored = pets_db.find_one({"_id": write.pet_id})
    reference = Pet(**dict(LUNA, species="  Maine   Coon ", species_key="maine coon"))
    reference.validate()  # the schema's own checks: the created document passes them
    expected = reference.to_mongo().to_dict()
    assert set(stored) == set(expected) | {"_id", "outbox_task", "outbox_due_at"}
    assert {k: type(v) for k, v in stored.items() if k in expected} == {k: type(v) for k, v in expected.items()}
    assert stored["species_key"] == expected["species_key"] == "maine coon"
    loaded = Pet.objects.get(id=write.pet_id)
    assert (loaded.name, loaded.age, loaded.created_at) == ("Luna", 3, write.document["created_at"])


def test_create_saves_the_pet_with_its_task_and_queues_it_once(pets_db, redis_client):
    from pets.producer import DELIVERED_KEY
    from pets.services import pet_create

    write = pet_create(**LUNA)
    assert write.task_queued is True
    [task] = queued(redis_client)
    assert task.pet_id == str(write.pet_id) and task.reason == "created" and task.species == "Cat"
    stored = pets_db.find_one({"_id": write.pet_id})
    assert parse_task(stored["outbox_task"]).task_id == task.task_id  # kept until the relay clears it
    assert redis_client.zscore(DELIVERED_KEY, task.task_id) is not None
    status = TaskStatus.from_json(redis_client.hget(STATUS_KEY, task.pet_id))
    assert status is not None and (status.state, status.task_id) == ("queued", task.task_id)


def test_one_script_queues_wakes_marks_counts_and_announces(pets_db, redis_client):
    """pets/producer.ENQUEUE does in one command what the create's transaction used to."""
    from contracts.events import EVENTS_KEY, Event
    from contracts.tasks import HIGH, QUEUE_KEYS, WAKE_KEY, WAKE_TOKENS_KEPT
    from pets.counts import COUNTS_KEY, signature
    from pets.producer import DELIVERED_KEY
    from pets.services import pet_create

    redis_client.rpush(WAKE_KEY, *[b"1"] * (WAKE_TOKENS_KEPT + 10))  # idle consumers' backlog of tokens
    redis_client.hset(COUNTS_KEY, mapping={signature(None, None): 5, signature("cat", True): 2})  # known
    write = pet_create(**LUNA, priority=HIGH)
    [raw] = redis_client.lrange(QUEUE_KEYS[HIGH], 0, -1)
    task = parse_task(raw)
    assert raw.decode() == write.document["outbox_task"] and task.priority == HIGH
    assert redis_client.llen(WAKE_KEY) == WAKE_TOKENS_KEPT  # one more token, the list trimmed
    assert abs(redis_client.zscore(DELIVERED_KEY, task.task_id) - time.time()) < 60  # scored with when
    assert TaskStatus.from_json(redis_client.hget(STATUS_KEY, task.pet_id)).task_id == task.task_id
    counts = {k.decode(): int(v) for k, v in redis_client.hgetall(COUNTS_KEY).items()}
    assert counts == {"|": 6, "cat|true": 3}  # known counts adjusted, unknown ones left to be computed
    [(entry_id, fields)] = redis_client.xrange(EVENTS_KEY)
    event = Event.from_entry(entry_id, fields)
    assert event.type == "pet.created" and event.data["pet"]["id"] == str(write.pet_id)


def test_an_update_queues_a_task_only_when_enrichment_depends_on_the_change(pets_db, redis_client):
    from pets.selectors import pet_get
    from pets.services import pet_update

    pet = created_pet()
    write = pet_update(pet, owner="Bea")
    assert write.task_queued is None  # the owner is not enriched
    write = pet_update(write.document, age=3)
    assert write.task_queued is None  # no change at all
    write = pet_update(write.document, age=4)
    assert write.task_queued is True
    tasks = queued(redis_client)
    assert [t.reason for t in tasks] == ["created", "updated"] and tasks[1].age == 4 and tasks[1].owner == "Bea"
    stored = pet_get(str(pet["_id"]))
    assert stored == write.document  # what the update returns is what it stored
    assert stored["owner"] == "Bea" and stored["outbox_task"] == tasks[1].to_json()


def test_an_update_stores_the_create_shape_and_skips_a_pet_deleted_meanwhile(pets_db, redis_client):
    from pets.models import Pet
    from pets.services import pet_delete, pet_update

    pet = created_pet()
    write = pet_update(pet, species="  Maine   Coon ", age=5)
    stored = pets_db.find_one({"_id": pet["_id"]})
    assert set(stored) == set(pet) and stored["species_key"] == "maine coon"
    assert {k: type(v) for k, v in stored.items()} == {k: type(v) for k, v in pet.items()}
    assert Pet.objects.get(id=pet["_id"]).species == "  Maine   Coon "  # the schema still loads it
    pet_delete(write.document)
    assert pet_update(write.document, age=6) is None
    # Nothing queued for the late update; the delete took the create's and the update's tasks out.
    assert pets_db.count_documents({}) == 0 and queued(redis_client) == []


def test_counts_follow_creates_updates_and_deletes(pets_db, redis_client):
    from pets.selectors import pet_page
    from pets.services import pet_delete, pet_update

    pet = created_pet()
    assert pet_page(species="cat").total == 1 and pet_page(vaccinated=False).total == 0  # counted now
    pet = pet_update(pet, vaccinated=False).document
    assert pet_page(species="CAT").total == 1 and pet_page(vaccinated=False).total == 1
    pet_delete(pet)
    assert pet_page(species="cat").total == 0 and pet_page().total == 0
    assert redis_client.hget(STATUS_KEY, str(pet["_id"])) is None


def test_with_redis_down_the_pet_is_saved_and_the_relay_queues_it_later(pets_db, redis_client, redis_down):
    from pets import redis_client as api_redis
    from pets.outbox import relay_due
    from pets.services import pet_create

    write = pet_create(**LUNA)
    assert write.task_queued is False
    staged = pets_db.find_one({"_id": write.pet_id})["outbox_task"]
    api_redis._client = api_redis._replica = None  # Redis is back (the next call connects to the session's)
    pets_db.update_one({"_id": write.pet_id}, {"$set": {"outbox_due_at": write.document["created_at"]}})  # due now
    round_ = relay_due()
    assert (round_.pushed, round_.cleared) == (1, 0)
    assert [t.task_id for t in queued(redis_client)] == [parse_task(staged).task_id]
    assert "outbox_task" not in pets_db.find_one({"_id": write.pet_id})


def test_the_relay_clears_what_redis_took_and_pushes_nothing_twice(pets_db, redis_client):
    from pets.outbox import relay_due

    pet = created_pet()
    pets_db.update_one({"_id": pet["_id"]}, {"$set": {"outbox_due_at": pet["created_at"]}})
    assert (relay_due().cleared, len(queued(redis_client))) == (1, 1)
    assert relay_due().handled == 0


def test_markers_of_tasks_superseded_before_the_relay_ran_are_dropped_when_old(pets_db, redis_client, monkeypatch):
    """A pet updated five times in a few seconds leaves five delivered markers the relay never
    finds on a pet: they go once older than OUTBOX_MARKER_SECONDS, and only they."""
    from django.conf import settings

    from pets.outbox import LEGACY_DELIVERED_KEY, drop_legacy_markers, drop_old_markers, relay_due
    from pets.producer import DELIVERED_KEY
    from pets.selectors import pet_get
    from pets.services import pet_update

    pet = created_pet()
    for age in range(4, 9):
        pet_update(pet_get(str(pet["_id"])), age=age)
    pets_db.update_one({"_id": pet["_id"]}, {"$set": {"outbox_due_at": pet["created_at"]}})
    assert relay_due().cleared == 1  # the last task: its marker goes with it
    superseded = redis_client.zrange(DELIVERED_KEY, 0, -1)
    assert len(superseded) == 5
    assert drop_old_markers() == 0  # young: kept (a relay may still need them)
    redis_client.zadd(DELIVERED_KEY, {b"fresh-task": time.time()})
    redis_client.zadd(DELIVERED_KEY, dict.fromkeys(superseded, time.time() - settings.OUTBOX_MARKER_SECONDS - 5))
    assert drop_old_markers() == 5
    assert redis_client.zrange(DELIVERED_KEY, 0, -1) == [b"fresh-task"]
    redis_client.sadd(LEGACY_DELIVERED_KEY, "marked-by-an-earlier-version")  # its unbounded set
    drop_legacy_markers()
    assert not redis_client.exists(LEGACY_DELIVERED_KEY)


def test_a_task_claimed_by_another_relay_waits_out_its_lease(pets_db, redis_client, redis_down):
    from pets import redis_client as api_redis
    from pets.models import utc_now
    from pets.outbox import RELAY_LEASE, relay_due

    pet = created_pet()
    api_redis._client = None
    # Another relay claimed it a moment ago, as relay_due claims what it pushes, and may be pushing it.
    claimed_until = utc_now() + RELAY_LEASE - timedelta(seconds=1)
    pets_db.update_one({"_id": pet["_id"]}, {"$set": {"outbox_due_at": claimed_until}})
    assert relay_due().handled == 0 and queued(redis_client) == []


def test_a_pet_stored_by_the_original_app_can_be_updated_and_deleted(pets_db, redis_client):
    """Its document has no species_key and no vaccinated: the first update writes them."""
    from bson import ObjectId

    from pets.models import utc_now
    from pets.selectors import pet_get
    from pets.services import pet_delete, pet_update

    legacy_id = pets_db.insert_one(
        {"_id": ObjectId(), "name": "Rex", "species": "Dog", "age": 4, "owner": "Ana",
         "created_at": utc_now(), "updated_at": utc_now()}
    ).inserted_id  # fmt: skip
    legacy = pet_get(str(legacy_id))
    write = pet_update(legacy, owner="Bea")
    assert write is not None and write.task_queued is None
    healed = pets_db.find_one({"_id": legacy_id})
    assert (healed["species_key"], healed["vaccinated"], healed["owner"]) == ("dog", False, "Bea")
    pet_delete(write.document)
    assert pets_db.count_documents({}) == 0
