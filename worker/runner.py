"""The consumer loop: take a task, enrich the pet, write its file, record where the task went.

Delivery is at least once, with exactly one file and one result record in effect:
- a task is moved (BLMOVE) into this consumer's processing list and leaves it only in the Redis
  transaction that records its outcome: done, retry later, or dead letter (see worker/queue.py);
- a consumer starting under the same name takes back what it held; the others take back the
  tasks of a consumer whose heartbeat lapsed;
- a redelivered task finds its file (same name, same task id) or its done marker and writes none.

Failures: Wikipedia errors and write errors are transient: retried with exponential backoff and
jitter through the delayed set (honouring Retry-After), then dead-lettered after
`max_attempts`. A malformed task, an answer Wikipedia must not give (WikipediaRefused) and any
unexpected exception dead-letter the task at once. A 404 or disambiguation is an answer.

Signals, as RQ and Dramatiq do it: the first SIGTERM/SIGINT lets the current task finish and then
exits 0; a second one exits at once (the held task is recovered by the others or on restart).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import redis
from pymongo.errors import ConnectionFailure

from contracts.dead_letters import DeadLetter
from contracts.queue import InvalidTask, Task, parse_task
from contracts.results import ResultRecord, write_result
from worker.config import WorkerSettings
from worker.enrichment import build_document
from worker.heartbeat import Heartbeat
from worker.logs import SUCCESS
from worker.queue import TaskQueue
from worker.results_store import ResultStore
from worker.wikipedia import CachedWikipedia, WikipediaRefused, WikipediaUnavailable

log = logging.getLogger("worker")

# Worth another try later: Wikipedia down or throttling us, the disk full or unwritable, MongoDB
# (where results are recorded) unreachable.
TRANSIENT_ERRORS = (WikipediaUnavailable, OSError, ConnectionFailure)
MIN_WAIT_SECONDS = 0.05  # the shortest block on an empty queue when a retry is nearly due
PROMOTE_INTERVAL_SECONDS = 0.1  # how often a busy consumer looks for due retries


def exponential_delay(attempt: int, base: float, cap: float) -> float:
    """base, 2*base, 4*base... capped, with jitter so failing consumers do not retry in step."""
    return min(cap, base * 2 ** max(attempt - 1, 0)) * random.uniform(0.5, 1.0)


class Backoff:
    """Reconnection delays for Redis: capped, exponential, jittered; reset on success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return exponential_delay(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0


class Consumer:
    def __init__(
        self, settings: WorkerSettings, queue: TaskQueue, wikipedia: CachedWikipedia, results: ResultStore
    ) -> None:
        self.settings = settings
        self.results = results
        self.name = settings.consumer_name
        self.queue = queue
        self.wikipedia = wikipedia
        self.heartbeat = Heartbeat(queue, settings.heartbeat_ttl_seconds)
        self._stop = threading.Event()
        self._next_reap = 0.0
        self._next_promote = 0.0
        self._next_retry_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self._stop.is_set():
            log.warning("Second %s: exiting now; the task in hand will be recovered", name)
            raise SystemExit(1)
        log.info("%s received: finishing the current task, then stopping", name)
        self._stop.set()

    def run(self) -> int:
        """Consume until asked to stop; never exits on its own because Redis went away."""
        try:
            self.settings.processed_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # tasks are retried until the folder can be written
            log.error("Cannot create %s: %s", self.settings.processed_dir, exc)
        self.heartbeat.start()
        try:
            self._loop()
        finally:
            self.heartbeat.stop()
        log.info("Stopped")
        return 0

    def _loop(self) -> None:
        backoff = Backoff()
        held_requeued = False
        log.info("👂 Waiting for tasks...")
        while not self._stop.is_set():
            try:
                if not held_requeued:
                    count = self.queue.requeue_held()
                    if count:
                        log.warning("Requeued %d task(s) left unfinished by a previous run", count)
                    held_requeued = True
                raw = self.queue.take(self._housekeeping())
                if backoff.failures:
                    log.info("Reconnected to Redis")
                    backoff.reset()
                if raw is not None:
                    self.handle(raw)
            except redis.RedisError as exc:
                held_requeued = False  # what we held is requeued once Redis answers again
                delay = backoff.next_delay()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)

    def _housekeeping(self) -> float:
        """Move due retries back to the queue; take back the tasks of dead consumers.

        Returns how long the next wait for a task may block: no longer than until the next
        retry is due, so retries run on time even when the queue is idle. While tasks keep
        coming it runs at most every PROMOTE_INTERVAL_SECONDS: one round trip, not one per task.
        """
        now = time.monotonic()
        if now >= self._next_reap:
            for owner, count in self.queue.reap_orphans().items():
                log.warning("Requeued %d task(s) held by %s, whose heartbeat lapsed", count, owner)
            self._next_reap = now + self.settings.reap_interval_seconds
        if now >= self._next_promote:
            next_retry = self.queue.promote_due()
            self._next_retry_at = None if next_retry is None else now + next_retry
            self._next_promote = now + PROMOTE_INTERVAL_SECONDS
        if self._next_retry_at is None:
            return self.settings.poll_seconds
        return min(self.settings.poll_seconds, max(self._next_retry_at - now, MIN_WAIT_SECONDS))

    # -- one task --------------------------------------------------------------------------
    def handle(self, raw: bytes) -> None:
        """Process one payload and record its outcome; whatever happens, the loop goes on.

        Only a Redis error leaves the task where it is (held, requeued once Redis is back). Any
        other exception, from parsing, logging or recording the outcome itself, dead-letters the
        payload as poison, so one bad task can never crash every consumer in turn.
        """
        try:
            self._handle(raw)
        except redis.RedisError:
            raise
        except Exception as exc:
            log.exception("Poison task sent to the dead-letter list (%s)", type(exc).__name__)
            error = f"poison task: {type(exc).__name__}: {exc}"
            try:
                self.queue.dead_letter(raw, DeadLetter.for_payload(raw, error=error, consumer=self.name))
            except redis.RedisError:
                raise
            except Exception:  # even the dead letter failed: keep the payload in the log, go on
                log.critical("Dropping a task that cannot even be dead-lettered: %.2000r", raw, exc_info=True)
                self.queue.drop(raw)

    def _handle(self, raw: bytes) -> None:
        log.info("📨 Received new task from queue")
        try:
            task = parse_task(raw)
        except InvalidTask as exc:
            log.error("Invalid task sent to the dead-letter list (%s): %.200r", exc, raw)
            self.queue.dead_letter(raw, DeadLetter.for_payload(raw, error=f"invalid task: {exc}", consumer=self.name))
            return
        if self.queue.start(task):
            log.info("Task %s was already processed: skipped", task.task_id)
            self.queue.skip_done(raw, task)
            return
        try:
            path = self.process(task)
        except redis.RedisError:
            raise  # the task stays held and is requeued once Redis is back
        except TRANSIENT_ERRORS as exc:
            self._retry_or_give_up(raw, task, exc)
            return
        except WikipediaRefused as exc:
            log.error("Task %s sent to the dead-letter list: %s", task.task_id, exc)
            self._give_up(raw, task, exc)
            return
        except Exception as exc:
            log.exception("Task %s for pet %s failed, sent to the dead-letter list", task.task_id, task.pet_id)
            self._give_up(raw, task, exc)
            return
        self.queue.complete(raw, task, path.name)

    def process(self, task: Task) -> Path:
        started = time.monotonic()
        log.info("Processing pet: %s (%s) - ID: %s", task.name, task.species, task.pet_id[:8])
        summary = self.wikipedia.summary(task.species)
        processed_at = datetime.now(UTC)
        document = build_document(
            task,
            summary,
            consumer_name=self.name,
            processed_at=processed_at,
            duration_seconds=time.monotonic() - started,
        )
        when = task.enqueued_datetime()
        if when is None:
            # A task pushed by hand has no enqueue time, so its file name comes from now and would
            # differ on a redelivery: its result record (keyed by task id) says if it was written.
            earlier = self.results.find(task.task_id)
            if earlier is not None:
                log.info("Task %s was already written to %s by an earlier delivery", task.task_id, earlier.file)
                log.log(SUCCESS, "⏱️ Task processed in %.2fs", time.monotonic() - started)
                return self.settings.processed_dir / earlier.file
            when = processed_at
        path, is_new = write_result(self.settings.processed_dir, task.pet_id, task.name, when, document)
        self.results.record(ResultRecord.from_enriched(document, path.name))
        if is_new:
            log.log(SUCCESS, "✅ Enriched data saved to: %s", path.name)
        else:
            log.info("Task %s was already written to %s by an earlier delivery", task.task_id, path.name)
        log.log(SUCCESS, "⏱️ Task processed in %.2fs", time.monotonic() - started)
        return path

    def _give_up(self, raw: bytes, task: Task, exc: Exception) -> None:
        failed = task.after_failure(f"{type(exc).__name__}: {exc}")
        self.queue.dead_letter(raw, DeadLetter.for_task(failed, consumer=self.name), failed)

    def _retry_or_give_up(self, raw: bytes, task: Task, exc: Exception) -> None:
        failed = task.after_failure(f"{type(exc).__name__}: {exc}")
        limit = self.settings.max_attempts
        if failed.attempts >= limit:
            log.error("Task %s failed %d times, sent to the dead-letter list: %s", task.task_id, limit, exc)
            self.queue.dead_letter(raw, DeadLetter.for_task(failed, consumer=self.name), failed)
            return
        delay = exponential_delay(failed.attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # honoured, within the retry maximum
            delay = min(max(delay, retry_after), self.settings.retry_max_seconds)
        log.warning(
            "Task %s failed (attempt %d of %d): %s; retrying in %.1fs", task.task_id, failed.attempts, limit, exc, delay
        )
        self.queue.retry_later(raw, failed, delay)
        self._next_promote = 0.0  # look for it (and its due time) on the next turn of the loop
