from django.apps import AppConfig
from django.conf import settings


class PetsConfig(AppConfig):
    name = "pets"

    def ready(self) -> None:
        """Register the MongoDB connection once per process.

        `connect=False` defers the socket until the first query, so gunicorn can fork workers
        after import without sharing a MongoClient between processes.
        """
        import mongoengine

        from infra.mongo import client_options
        from pets.metrics import MongoCommandMetrics

        mongoengine.connect(
            db=settings.MONGODB_DB,
            host=settings.MONGODB_URI,
            connect=False,
            tz_aware=True,
            **client_options(settings.MONGODB_URI, settings.MONGODB_TIMEOUT_MS),
            uuidRepresentation="standard",
            event_listeners=[MongoCommandMetrics()],
        )
