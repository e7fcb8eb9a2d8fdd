"""The worker's side of the result record (contracts/results.py): one insert per batch of tasks.

The record's `_id` is the task id: a redelivered task that was recorded already inserts nothing
(a duplicate key is the answer "done before"), so the collection holds exactly one per task.

Bounded: a pet keeps the record of its newest task. Once the record of an update's task is in,
the records of the pet's earlier tasks are deleted (one bulk write for the batch; a created pet's
first task has none before it, so creates cost nothing more). Deleting a pet deletes its records
(pets/services.py).
"""

from __future__ import annotations

import logging

import pymongo
from pymongo import DeleteMany
from pymongo.errors import BulkWriteError, PyMongoError

from contracts.results import RESULTS_COLLECTION, ResultRecord
from infra.mongo import client_options

DUPLICATE_KEY = 11000
log = logging.getLogger("worker")


class ResultStore:
    def __init__(self, uri: str, timeout_ms: int) -> None:
        # connect=False: no socket until the first task, so a consumer starts while MongoDB does.
        client: pymongo.MongoClient = pymongo.MongoClient(
            uri, connect=False, tz_aware=True, **client_options(uri, timeout_ms)
        )
        self.collection = client.get_default_database("pets_database")[RESULTS_COLLECTION]

    def record(self, records: list[ResultRecord]) -> None:
        """Store the records in one round trip; those recorded before (redeliveries) are kept as they are."""
        if not records:
            return
        try:
            self.collection.insert_many([record.to_document() for record in records], ordered=False)
        except BulkWriteError as exc:
            others = [error for error in exc.details.get("writeErrors", []) if error.get("code") != DUPLICATE_KEY]
            if others or exc.details.get("writeConcernErrors"):
                raise

    def drop_superseded(self, newest: list[ResultRecord]) -> None:
        """Delete the records these supersede: their pets' records of tasks enqueued before them.
        A failure is logged, not raised: the records are in, and the next update prunes again."""
        if not newest:
            return
        older = [DeleteMany({"pet_id": r.pet_id, "enqueued_at": {"$lt": r.enqueued_at}}) for r in newest]
        try:
            self.collection.bulk_write(older, ordered=False)
        except PyMongoError as exc:
            log.warning("Could not delete %d pet(s)' superseded result records: %s", len(newest), exc)

    def find(self, task_id: str) -> ResultRecord | None:
        """The record of this task, if a delivery of it was recorded already."""
        document = self.collection.find_one({"_id": task_id})
        return ResultRecord.from_document(document) if document else None
