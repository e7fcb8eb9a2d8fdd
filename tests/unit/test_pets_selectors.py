"""pets/selectors.py and pets/serializers.py in process: paging, filters, enrichment states, input rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from contracts.results import RESULTS_COLLECTION, ResultRecord
from contracts.task_status import TaskStatus
from contracts.tasks import build_task
from worker.enrichment import build_document
from worker.wikipedia import FOUND, Summary


def insert_pets(pets_db, count: int, *, species: str = "Cat", start: datetime | None = None) -> list[ObjectId]:
    newest = start or datetime.now(UTC).replace(microsecond=0)
    ids = []
    for number in range(count):
        created = newest - timedelta(minutes=number)
        ids.append(ObjectId())
        pets_db.insert_one({"_id": ids[-1], "name": f"Pet {number}", "species": species,
                            "species_key": species.lower(), "age": 2, "owner": "Ana",
                            "vaccinated": number % 2 == 0, "created_at": created, "updated_at": created})  # fmt: skip
    return ids


def test_cursor_pages_walk_every_pet_once_newest_first(pets_db):
    from pets.selectors import pet_page

    ids = insert_pets(pets_db, 25)
    seen, cursor = [], None
    while True:
        page = pet_page(limit=10, cursor=cursor)
        seen += [pet["id"] for pet in page.pets]
        assert page.total == 25
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [str(pet_id) for pet_id in ids]


def test_pets_created_in_the_same_millisecond_are_neither_lost_nor_repeated(pets_db):
    from pets.selectors import pet_page

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(30):
        pets_db.insert_one({"_id": ObjectId(), "name": f"Twin {number}", "species": "Cat", "species_key": "cat",
                            "age": 1, "owner": "Ana", "vaccinated": False, "created_at": moment,
                            "updated_at": moment})  # fmt: skip
    first = pet_page(limit=7)
    second = pet_page(limit=100, cursor=first.next_cursor)
    names = [pet["name"] for pet in first.pets + second.pets]
    assert len(names) == len(set(names)) == 30 and second.next_cursor is None


def test_filters_use_the_species_key_and_count_what_they_match(pets_db):
    from pets.selectors import pet_filters, pet_page

    insert_pets(pets_db, 4, species="Guinea pig")
    insert_pets(pets_db, 3, species="Dog")
    assert pet_filters(species="  GUINEA   Pig ") == {"species_key": "guinea pig"}
    page = pet_page(species="guinea pig", vaccinated=True)
    assert page.total == 2 and {pet["species"] for pet in page.pets} == {"Guinea pig"}


def test_pets_by_ids_skips_malformed_and_unknown_ids(pets_db):
    from pets.selectors import pets_by_ids

    [known] = insert_pets(pets_db, 1)
    found = pets_by_ids([str(known), "not-an-id", str(ObjectId())])
    assert list(found) == [str(known)]


def test_the_newest_result_of_each_pet_wins_and_decides_its_state(pets_db):
    from pets.selectors import enrichment_state, latest_results

    [pet_id] = map(str, insert_pets(pets_db, 1))
    first_queued = datetime.now(UTC)
    for age, queued_after in ((2, 0), (1, 1)):  # the second task is enqueued later, but recorded first
        task = build_task(pet_id=pet_id, name="Pet 0", species="Cat", age=age, owner="Ana", vaccinated=True,
                          reason="updated")  # fmt: skip
        # A second apart: MongoDB keeps times to the millisecond, and two calls can share one.
        task = replace(task, enqueued_at=(first_queued + timedelta(seconds=queued_after)).isoformat())
        summary = Summary(FOUND, "Cat", "The cat is an animal.", None, None)
        document = build_document(task, summary, consumer_name="Consumer-1", processed_at=datetime.now(UTC),
                                  duration_seconds=0)  # fmt: skip
        record = ResultRecord.from_enriched(document, f"{pet_id}_{age}.json")
        pets_db.database[RESULTS_COLLECTION].insert_one(record.to_document())
    result = latest_results([pet_id])[pet_id]
    assert result.age == 1
    pet = {"species": "Cat", "age": 1, "vaccinated": True}
    assert enrichment_state(pet, result, None) == "done"
    queued = TaskStatus(state="queued", task_id="newer", at="now")
    assert enrichment_state(pet | {"age": 3}, result, queued) == "queued"
    assert enrichment_state(pet | {"age": 3}, result, None) == "stale"
    assert enrichment_state(pet, None, None) == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Luna", "species": "Cat", "age": True, "owner": "Ana"}, "age"),
        ({"name": "Luna", "species": "Cat", "age": "3.0", "owner": "Ana"}, "age"),
        ({"name": "Luna", "species": "Cat", "age": 3.5, "owner": "Ana"}, "age"),
        ({"name": 7, "species": "Cat", "age": 3, "owner": "Ana"}, "name"),
        ({"name": "Luna", "species": "Cat", "age": 101, "owner": "Ana"}, "age"),
        ({"name": "", "species": "Cat", "age": 3, "owner": "Ana"}, "name"),
        ({"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": "yes"}, "vaccinated"),
        ({"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "colour": "black"}, "colour"),
    ],
)
def test_the_input_serializer_names_the_field_it_refuses(django_ready, body, field):
    from pets.serializers import PetInputSerializer

    serializer = PetInputSerializer(data=body)
    assert not serializer.is_valid()
    assert field in serializer.errors


def test_a_cursor_not_given_by_a_link_is_refused_by_name(django_ready):
    from pets.serializers import PetListQuerySerializer

    query = PetListQuerySerializer(data={"cursor": "bm90IGEgY3Vyc29y"})
    assert not query.is_valid()
    assert query.errors["cursor"] == ["Invalid cursor: use the one a Link header gave."]
