"""The consumer loop: take a task, enrich the pet, write its file, acknowledge.

Tasks move atomically from `pets:tasks` into this consumer's own processing list (BLMOVE) and
leave it only once their file is written, so a crash leaves the task where it can be recovered:
a consumer starting (or reconnecting) under the same name puts what it held back on the queue.

Signals, as RQ and Dramatiq do it: the first SIGTERM/SIGINT lets the current task finish and then
exits 0; a second one exits at once (the held task is recovered on the next start).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
from datetime import UTC, datetime

import redis

from contracts.queue import (
    DEAD_LETTER_KEY,
    TASKS_KEY,
    InvalidTask,
    Task,
    parse_task,
    processing_key,
    utc_now_iso,
)
from contracts.results import write_result
from worker.config import WorkerSettings
from worker.enrichment import build_document
from worker.logs import SUCCESS
from worker.wikipedia import UNAVAILABLE, CachedWikipedia, Summary, WikipediaUnavailable, normalise_title

log = logging.getLogger("worker")


class Backoff:
    """Capped exponential backoff with jitter, for reconnecting to Redis."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class Consumer:
    def __init__(self, settings: WorkerSettings, redis_client: redis.Redis, wikipedia: CachedWikipedia) -> None:
        self.settings = settings
        self.name = settings.consumer_name
        self.redis = redis_client
        self.wikipedia = wikipedia
        self.processing_key = processing_key(self.name)
        self._stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._stop.is_set():
            log.warning("Second %s: exiting now", signal.Signals(signum).name)
            raise SystemExit(1)
        log.info("%s received: finishing the current task, then stopping", signal.Signals(signum).name)
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> int:
        """Consume until asked to stop; never exits on its own because Redis went away."""
        self.settings.processed_dir.mkdir(parents=True, exist_ok=True)
        backoff = Backoff()
        held_requeued = False
        log.info("👂 Waiting for tasks...")
        while not self._stop.is_set():
            try:
                if not held_requeued:
                    self.requeue_held()
                    held_requeued = True
                raw = self.redis.blmove(TASKS_KEY, self.processing_key, self.settings.poll_seconds, "LEFT", "LEFT")
                if backoff.failures:
                    log.info("Reconnected to Redis")
                    backoff.reset()
                if raw is not None:
                    self.handle(raw)
            except redis.RedisError as exc:
                held_requeued = False
                delay = backoff.next_delay()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
        log.info("Stopped")
        return 0

    # -- one task --------------------------------------------------------------------------
    def requeue_held(self) -> int:
        """Put back on the head of the queue what this consumer held when it last stopped."""
        count = 0
        while self.redis.lmove(self.processing_key, TASKS_KEY, "LEFT", "LEFT") is not None:
            count += 1
        if count:
            log.warning("Requeued %d task(s) left unfinished by a previous run", count)
        return count

    def handle(self, raw: bytes) -> None:
        """Process one payload; whatever happens to it, the loop goes on."""
        log.info("📨 Received new task from queue")
        try:
            task = parse_task(raw)
        except InvalidTask as exc:
            log.error("Invalid task skipped (%s): %.200r", exc, raw)
            self.dead_letter(raw, f"invalid task: {exc}")
        else:
            try:
                self.process(task)
            except redis.RedisError:
                raise  # the task stays held and is requeued once Redis is back
            except Exception as exc:
                log.exception("Task %s for pet %s failed", task.task_id, task.pet_id)
                self.dead_letter(raw, f"{type(exc).__name__}: {exc}")
        self.redis.lrem(self.processing_key, 1, raw)

    def process(self, task: Task) -> None:
        started = time.monotonic()
        log.info("Processing pet: %s (%s) - ID: %s", task.name, task.species, task.pet_id[:8])
        try:
            summary = self.wikipedia.summary(task.species)
        except WikipediaUnavailable as exc:
            log.warning("Wikipedia unavailable for %r: %s", task.species, exc)
            summary = Summary(UNAVAILABLE, normalise_title(task.species))
        processed_at = datetime.now(UTC)
        document = build_document(
            task,
            summary,
            consumer_name=self.name,
            processed_at=processed_at,
            duration_seconds=time.monotonic() - started,
        )
        path = write_result(self.settings.processed_dir, task.pet_id, task.name, processed_at, document)
        log.log(SUCCESS, "✅ Enriched data saved to: %s", path.name)
        log.log(SUCCESS, "⏱️ Task processed in %.2fs", time.monotonic() - started)

    def dead_letter(self, raw: bytes, reason: str) -> None:
        """Keep what could not be processed, with why, for an operator to look at."""
        entry = {
            "payload": raw.decode("utf-8", errors="replace"),
            "error": reason,
            "failed_at": utc_now_iso(),
            "consumer": self.name,
        }
        self.redis.rpush(DEAD_LETTER_KEY, json.dumps(entry, ensure_ascii=False))
