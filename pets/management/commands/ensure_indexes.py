"""Create the MongoDB indexes of the Pet document (idempotent).

Run before the API serves: by `make run`, the API container's entrypoint and the tests. With
`--wait N` it first waits up to N seconds for the database (it may still be starting).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from pets.models import Pet
from pets.selectors import database_ping


class Command(BaseCommand):
    help = "Create the MongoDB indexes the API's queries need."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the database")

    def handle(self, *args, wait: float = 0, **options) -> None:
        deadline = time.monotonic() + wait
        while not database_ping():
            if time.monotonic() >= deadline:
                raise CommandError("MongoDB is not reachable (MONGODB_URI)")
            time.sleep(0.5)
        try:
            Pet.ensure_indexes()
        except PyMongoError as exc:
            raise CommandError(f"Could not create the indexes: {exc}") from exc
        names = sorted(Pet._get_collection().index_information())
        self.stdout.write(f"MongoDB indexes ready: {', '.join(names)}")
