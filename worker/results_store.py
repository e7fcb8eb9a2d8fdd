"""The worker's side of the result record (contracts/results.py): one insert per batch of tasks.

The record's `_id` is the task id: a redelivered task that was recorded already inserts nothing
(a duplicate key is the answer "done before"), so the collection holds exactly one per task.
"""

from __future__ import annotations

import pymongo
from pymongo.errors import BulkWriteError

from contracts.results import RESULTS_COLLECTION, ResultRecord
from infra.mongo import client_options

DUPLICATE_KEY = 11000


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

    def find(self, task_id: str) -> ResultRecord | None:
        """The record of this task, if a delivery of it was recorded already."""
        document = self.collection.find_one({"_id": task_id})
        return ResultRecord.from_document(document) if document else None
