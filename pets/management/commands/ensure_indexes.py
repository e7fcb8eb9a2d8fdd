"""Create the MongoDB indexes of the Pet document and of the result records (idempotent).

Run before the API serves: by `make run`, the API container's entrypoint and the tests. With
`--wait N` it first waits up to N seconds for the database (it may still be starting).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from contracts.results import RESULTS_COLLECTION, RESULTS_INDEXES
from pets.models import Pet
from pets.selectors import database_address, database_problem


class Command(BaseCommand):
    help = "Create the MongoDB indexes the API's queries need."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the database")

    def handle(self, *args, wait: float = 0, **options) -> None:
        started = time.monotonic()
        next_report = started + 2
        address = database_address()
        while (problem := database_problem()) is not None:
            now = time.monotonic()
            if now - started >= wait:
                raise CommandError(f"MongoDB is not reachable at {address} after {wait:g}s: {problem} (MONGODB_URI)")
            if now >= next_report:
                self.stderr.write(f"Waiting for MongoDB at {address} ({problem})")
                next_report = now + 5
            time.sleep(0.5)
        results = Pet._get_db()[RESULTS_COLLECTION]
        try:
            Pet.ensure_indexes()
            for keys in RESULTS_INDEXES:
                results.create_index(keys)
        except PyMongoError as exc:
            raise CommandError(f"Could not create the indexes: {exc}") from exc
        names = sorted(Pet._get_collection().index_information())
        self.stdout.write(
            f"MongoDB indexes ready: {', '.join(names)}; results: {', '.join(sorted(results.index_information()))}"
        )
