"""worker/results_store.py against the session's real database: one record per task, and a pet
keeps the record of its newest task."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from contracts.results import RESULTS_COLLECTION, ResultRecord
from contracts.tasks import build_task
from worker.enrichment import build_document
from worker.results_store import ResultStore
from worker.wikipedia import FOUND, Summary


def record_for(pet_id: str, age: int, enqueued_at: datetime) -> ResultRecord:
    task = build_task(pet_id=pet_id, name="Rex", species="Dog", age=age, owner="Ana", vaccinated=True,
                      reason="updated")  # fmt: skip
    task = replace(task, enqueued_at=enqueued_at.isoformat())
    summary = Summary(FOUND, "Dog", "The dog is an animal.", None, None)
    document = build_document(task, summary, consumer_name="Consumer-1", processed_at=enqueued_at, duration_seconds=0)
    return ResultRecord.from_enriched(document, f"{pet_id}_{age}.json")


def test_an_updates_record_replaces_the_earlier_ones_and_a_late_older_one_deletes_nothing(mongo_uri, pets_collection):
    store = ResultStore(mongo_uri, 2000)
    results = pets_collection.database[RESULTS_COLLECTION]
    results.delete_many({})
    pet, other = str(ObjectId()), str(ObjectId())
    start = datetime.now(UTC).replace(microsecond=0)
    first, second, third = (record_for(pet, age, start + timedelta(seconds=age)) for age in (1, 2, 3))
    bystander = record_for(other, 1, start)
    store.record([first, second, bystander])
    store.record([third])
    store.drop_superseded([third])
    assert sorted(r["age"] for r in results.find({"pet_id": pet})) == [3]
    assert results.count_documents({"pet_id": other}) == 1  # another pet's record is untouched
    late = record_for(pet, 2, start + timedelta(seconds=2))  # an older task finishing late
    store.record([late])
    store.drop_superseded([late])
    assert sorted(r["age"] for r in results.find({"pet_id": pet})) == [2, 3]  # the newest stays
    store.record([third])  # a redelivery inserts nothing twice
    assert results.count_documents({"pet_id": pet}) == 2
