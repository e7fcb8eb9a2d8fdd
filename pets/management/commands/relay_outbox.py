"""Push the enrichment tasks that could not reach Redis when their pet was saved.

Runs beside the API (`make run`, docker compose): clears the tasks Redis took from their pets and
pushes the ones it did not (pets/outbox.py). Safe to run several: a task pushed twice is
processed once. With OUTBOX_RELAY_HEARTBEAT_FILE set it touches that file every round, failed
rounds included, so a health check can tell a relay that goes round from one that is stuck
(pets/heartbeat_file.py).
"""

import logging
import signal
import threading
from pathlib import Path

import redis
from django.conf import settings
from django.core.management.base import BaseCommand
from pymongo.errors import PyMongoError

from pets.heartbeat_file import beat
from pets.outbox import RELAY_BATCH, drop_legacy_markers, drop_old_markers, relay_due
from pets.selectors import one_line

log = logging.getLogger("pets.outbox")


class Command(BaseCommand):
    help = "Relay staged enrichment tasks from MongoDB to Redis, every few seconds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, once: bool = False, **options) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        interval = settings.OUTBOX_RELAY_INTERVAL_SECONDS
        heartbeat = Path(settings.OUTBOX_RELAY_HEARTBEAT_FILE) if settings.OUTBOX_RELAY_HEARTBEAT_FILE else None
        log.info("Outbox relay started (every %.1fs)", interval)
        drop_legacy_markers()
        while not stop.is_set():
            handled = 0
            try:
                round_ = relay_due()
                handled = round_.handled
                drop_old_markers()
                if round_.pushed:
                    log.info("Queued %d task(s) that had not reached Redis", round_.pushed)
            except (PyMongoError, redis.RedisError) as exc:
                log.warning("Outbox relay round failed: %s", one_line(exc))
            if heartbeat is not None:
                beat(heartbeat)
            if once:
                break
            if handled < RELAY_BATCH:  # a full batch: there may be more due, go again at once
                stop.wait(interval)
        log.info("Outbox relay stopped")
