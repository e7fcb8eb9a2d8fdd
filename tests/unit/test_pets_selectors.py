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


def record_result(pets_db, pet_id: str, *, age: int = 2, enqueued_at: datetime | None = None) -> ResultRecord:
    """A worker's result record for a task of this pet, stored as a worker stores it."""
    task = build_task(pet_id=pet_id, name="Pet", species="Cat", age=age, owner="Ana", vaccinated=True,
                      reason="created")  # fmt: skip
    if enqueued_at is not None:
        task = replace(task, enqueued_at=enqueued_at.isoformat())
    summary = Summary(FOUND, "Cat", "The cat is an animal.", None, None)
    document = build_document(task, summary, consumer_name="Consumer-1", processed_at=datetime.now(UTC),
                              duration_seconds=0)  # fmt: skip
    record = ResultRecord.from_enriched(document, f"{pet_id}_{task.task_id}.json")
    pets_db.database[RESULTS_COLLECTION].insert_one(record.to_document())
    return record


def test_a_page_of_pets_whose_ids_are_far_apart_still_finds_every_result(pets_db):
    """The results are read as one range of pet ids; when other pets' records fill that range past
    its cap, the page's own are looked up by id, none missed."""
    from pets.selectors import RECORDS_PER_PET, latest_results

    ids = [str(pet_id) for pet_id in insert_pets(pets_db, 2 + RECORDS_PER_PET * 2)]
    first, last, between = ids[0], ids[-1], ids[1:-1]
    for pet_id in [first, last, *between]:
        record_result(pets_db, pet_id)
    found = latest_results([first, last])
    assert sorted(found) == sorted([first, last])
    assert latest_results(ids).keys() == set(ids)


def test_remembered_results_are_used_only_while_the_state_entries_show_nothing_new(pets_db):
    from pets.selectors import latest_results

    [pet_id] = map(str, insert_pets(pets_db, 1))
    first = record_result(pets_db, pet_id, age=2)
    done_first = TaskStatus(state="done", task_id=first.task_id, at="then")
    assert latest_results([pet_id], {pet_id: done_first})[pet_id].task_id == first.task_id
    # A newer task finished: its state names it, and its record is read although the first is remembered.
    second = record_result(pets_db, pet_id, age=3, enqueued_at=datetime.now(UTC) + timedelta(seconds=1))
    done_second = TaskStatus(state="done", task_id=second.task_id, at="now")
    assert latest_results([pet_id], {pet_id: done_second})[pet_id].task_id == second.task_id
    # The database is not asked again for what a state entry names and this process read: the
    # record is gone from the database, and still shown (a record never changes once written).
    pets_db.database[RESULTS_COLLECTION].delete_many({"pet_id": pet_id})
    assert latest_results([pet_id], {pet_id: done_second})[pet_id].task_id == second.task_id
    # A task in flight: the database is read (nothing there now), never memory.
    queued = TaskStatus(state="queued", task_id="a-newer-task", at="now")
    assert latest_results([pet_id], {pet_id: queued}) == {}


def test_a_pet_without_a_state_entry_has_its_result_read_again_after_a_while(pets_db, monkeypatch):
    from pets import selectors

    [pet_id] = map(str, insert_pets(pets_db, 1))
    first = record_result(pets_db, pet_id, age=2)
    assert selectors.latest_results([pet_id], {})[pet_id].task_id == first.task_id
    newer = record_result(pets_db, pet_id, age=4, enqueued_at=datetime.now(UTC) + timedelta(seconds=1))
    assert selectors.latest_results([pet_id], {})[pet_id].task_id == first.task_id  # remembered, for RECHECK_SECONDS
    assert selectors.latest_results([pet_id])[pet_id].task_id == newer.task_id  # without states: always read
    fresh = selectors._RecentResults()
    monkeypatch.setattr(selectors, "_recent", fresh)  # a process whose memory has lapsed
    assert selectors.latest_results([pet_id], {})[pet_id].task_id == newer.task_id


def test_a_small_registry_is_read_plainly_and_a_wrong_count_never_gives_a_wrong_page(pets_db):
    from pets.pagination import PLAIN_READ_MAX, keyset_page

    ids = [str(pet_id) for pet_id in insert_pets(pets_db, 12, start=datetime(2020, 5, 1, tzinfo=UTC))]
    for matching in (12, None, PLAIN_READ_MAX + 1, 3):  # right, unknown, too many, too few
        documents, cursor = keyset_page({}, limit=5, after=None, matching=matching)
        rest, last = keyset_page({}, limit=100, after=cursor, matching=matching)
        assert [str(doc["_id"]) for doc in documents + rest] == ids and last is None


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
