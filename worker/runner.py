"""The consumer loop: take tasks, enrich each pet, write its file, record where each task went.

Tasks are taken in batches sized to about CONSUMER_BATCH_SECONDS of work (worker/prefetch.py): one
at a time while each needs Wikipedia, dozens once the summaries are cached; high priority first, unless a normal
or low task has waited too long at the head of its list (worker/priorities.py). A batch's result records are inserted
together and its done tasks leave the queue in one atomic script, on a thread of their own while the next batch is
processed (worker/overlap.py says what is durable when).

Delivery is at least once, with exactly one file and one result record in effect:
- a task is moved (LMOVE) into this consumer's processing list and leaves it only in the Redis
  transaction that records its outcome: done, retry later, or dead letter (see worker/broker.py);
- a consumer starting under the same name takes back what it held; the others take back the
  tasks of a consumer whose heartbeat lapsed;
- a redelivered task finds its file (same name, same task id) or its done marker and writes none.

Cancels (infra/lua/cancel_task.lua): a task cancelled while it waited is dropped when taken; one
cancelled while it is processed is dropped at the batch's last look before its file is written,
in the same script that takes it out of the processing list. Past that look, a cancel is refused.

Failures: worker/retries.py decides between another attempt later (through the delayed set) and
the dead-letter list. A malformed payload, or any exception while handling one, dead-letters it
as poison: one bad task can never crash every consumer in turn.

Signals, as RQ and Dramatiq do it: the first SIGTERM/SIGINT lets the current task finish and then
exits 0 (at once when it comes while waiting for tasks: nothing is in hand, and whatever the wait
was taking goes back to the queue); a second one exits at once (the held task is recovered by the
others or on restart).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import redis

from contracts.dead_letters import DeadLetter
from contracts.events import public_result
from contracts.results import ResultFile, ResultRecord
from contracts.tasks import CREATED, InvalidTask, Task, parse_task
from worker import metrics
from worker.broker import CANCELLED_BEFORE, DONE_BEFORE, Finished, TaskQueue
from worker.config import WorkerSettings
from worker.enrichment import build_document
from worker.heartbeat import Heartbeat
from worker.logs import SUCCESS
from worker.overlap import OneBehind
from worker.prefetch import Prefetch
from worker.priorities import PriorityAging
from worker.results_store import ResultStore
from worker.retries import Backoff, Retry, RetryPolicy
from worker.sinks import Published, ResultSink
from worker.wikipedia import CachedWikipedia

log = logging.getLogger("worker")
T = TypeVar("T")

MIN_WAIT_SECONDS = 0.05  # the shortest block on an empty queue when a retry is nearly due
PROMOTE_INTERVAL_SECONDS = 0.1  # how often a busy consumer looks for due retries


class StopWaiting(Exception):
    """Raised by the signal handler into an idle consumer's wait for tasks: stop now."""


@dataclass(frozen=True)
class Prepared:
    """A task whose document is built; written once the batch's last look for cancels is done."""

    raw: bytes
    task: Task
    document: dict
    processed_at: datetime
    prepare_seconds: float  # how long building it took (its publish adds the rest of its time)


@dataclass(frozen=True)
class Written:
    """A task whose file is written; its record and its outcome go with the rest of its batch."""

    raw: bytes
    task: Task
    file: str  # the result file's name
    record: ResultRecord | None  # None: an earlier delivery recorded it

    def finished(self) -> Finished:
        result = None if self.record is None else public_result(self.record.to_api())
        return Finished(self.raw, self.task, self.file, result)


class Consumer:
    def __init__(
        self,
        settings: WorkerSettings,
        queue: TaskQueue,
        wikipedia: CachedWikipedia,
        results: ResultStore,
        sink: ResultSink,
    ) -> None:
        self.settings = settings
        self.results = results
        self.sink = sink
        self.name = settings.consumer_name
        self.queue = queue
        self.wikipedia = wikipedia
        self.retries = RetryPolicy(settings.max_attempts, settings.retry_base_seconds, settings.retry_max_seconds)
        self.prefetch = Prefetch(settings.batch_max, settings.batch_seconds)
        self.priorities = PriorityAging(settings.priority_max_wait_seconds)
        self.heartbeat = Heartbeat(queue, settings.heartbeat_ttl_seconds)
        self._stop = threading.Event()
        self._next_reap = 0.0
        self._next_promote = 0.0
        self._next_retry_at: float | None = None
        self._waiting = False  # in the housekeeping and wait for tasks, holding nothing
        self._closing = OneBehind("close-batch")  # the previous batch's records and outcomes

    # -- lifecycle -------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self._stop.is_set():
            log.warning("Second %s: exiting now; the tasks in hand will be recovered", name)
            raise SystemExit(1)
        self._stop.set()
        if self._waiting:
            log.info("%s received while waiting for tasks: stopping", name)
            raise StopWaiting
        log.info("%s received: finishing the current task(s), then stopping", name)

    def run(self) -> int:
        """Consume until asked to stop; never exits on its own because Redis went away."""
        try:
            self.sink.prepare()
        except Exception as exc:  # tasks are retried until the results can be written
            log.error("Results cannot be written yet: %s", exc)
        self.heartbeat.start()
        try:
            self._loop()
            self._closing.settle()  # a warm stop: the last batch is closed before exiting
        finally:
            self.heartbeat.stop()
        log.info("Stopped")
        return 0

    def _loop(self) -> None:
        backoff = Backoff()
        held_requeued = enlisted = False
        log.info("👂 Waiting for tasks...")
        while not self._stop.is_set():
            try:
                if not enlisted:  # once, when Redis first answers (a scan of its keys)
                    self.queue.enlist_unregistered()
                    enlisted = True
                if not held_requeued:
                    count = self.queue.requeue_held()
                    if count:
                        log.warning("Requeued %d task(s) left unfinished by a previous run", count)
                    held_requeued = True
                batch = self._wait_for_tasks()
                if backoff.failures:
                    log.info("Reconnected to Redis")
                    backoff.reset()
                if batch:
                    self.handle_batch(batch)
            except StopWaiting:
                self._put_back_what_the_wait_took()
            except redis.RedisError as exc:
                self._closing.settle()  # nothing is closed behind the requeue of what we hold
                held_requeued = False  # what we held is requeued once Redis answers again
                delay = backoff.next_delay()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)

    def _wait_for_tasks(self) -> list[bytes]:
        """Housekeeping, then the next batch (empty after a wait with nothing to take); a stop
        asked meanwhile interrupts it (StopWaiting)."""
        self._waiting = True
        try:
            timeout = self._housekeeping()
            return self.queue.take(timeout, self.prefetch.size(), self.priorities.order(self.queue.heads))
        finally:
            self._waiting = False

    def _put_back_what_the_wait_took(self) -> None:
        """The wait was interrupted: whatever Redis moved to us meanwhile goes back to the queue
        (once the batch being closed is, so that none of its tasks is requeued after all)."""
        self._closing.settle()
        try:
            self.queue.requeue_held()  # on a new connection: redis-py dropped the interrupted one
        except redis.RedisError:
            pass  # then a restart, or the other consumers, take it back

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

    # -- a batch of tasks ------------------------------------------------------------------
    def handle_batch(self, raws: list[bytes]) -> None:
        """Process the tasks taken together; their states, result records and outcomes are
        written together too (a round trip each per batch, not per task), the last two while the
        next batch is processed.

        Only a Redis error leaves tasks where they are (held, requeued once Redis is back). Any
        other exception, from parsing, logging or recording an outcome itself, dead-letters the
        payload as poison, so one bad task can never crash every consumer in turn.
        """
        started = time.monotonic()
        parsed = [(raw, task) for raw in raws if (task := self._guarded(raw, self._parse, raw)) is not None]
        try:
            outcomes = self.queue.start(parsed) if parsed else []
        except redis.RedisError:
            raise
        except Exception as exc:
            for raw, _ in parsed:
                self._poison(raw, exc)
            parsed, outcomes = [], []
        prepared = []
        for (raw, task), outcome in zip(parsed, outcomes, strict=True):
            if outcome == CANCELLED_BEFORE:
                metrics.TASKS.labels("cancelled").inc()
                log.info("Task %s was cancelled: dropped", task.task_id)
                continue
            item = self._guarded(raw, self._handle, raw, task, outcome == DONE_BEFORE)
            if item is not None:
                prepared.append(item)
        written = self._write(prepared)
        self.prefetch.observe(len(raws), time.monotonic() - started)
        if written:  # closed while the next batch is taken and processed
            self._closing.submit(lambda: self._close(written))

    def _write(self, prepared: list[Prepared]) -> list[Written]:
        """The batch's files, written once a last look (one round trip) finds none of its tasks
        cancelled meanwhile: a cancelled task writes no file and no record."""
        if not prepared:
            return []
        try:
            cancelled = self.queue.commit([(item.raw, item.task) for item in prepared])
        except redis.RedisError:
            raise
        except Exception as exc:  # as for start(): never a crash of every consumer in turn
            for item in prepared:
                self._poison(item.raw, exc)
            return []
        to_publish = []
        for item, was_cancelled in zip(prepared, cancelled, strict=True):
            if was_cancelled:
                metrics.TASKS.labels("cancelled").inc()
                log.info("Task %s was cancelled while it was processed: nothing written", item.task.task_id)
            else:
                to_publish.append(item)
        return self._publish(to_publish)

    def _close(self, written: list[Written]) -> None:
        """One insert of the batch's result records, then one script marking its tasks done, then
        the records the batch's updates superseded deleted (worker/results_store.py)."""
        try:
            self.results.record([item.record for item in written if item.record is not None])
        except redis.RedisError:
            raise
        except Exception as exc:  # MongoDB unreachable, most likely: each task goes to the policy
            for item in written:
                self._fail(item.raw, item.task, exc)
            return
        self.queue.complete([item.finished() for item in written])
        self.results.drop_superseded([item.record for item in written if item.record and item.task.reason != CREATED])
        now = datetime.now(UTC)
        for item in written:
            metrics.TASKS.labels("done").inc()
            enqueued = item.task.enqueued_datetime()
            if enqueued is not None:
                metrics.ENQUEUE_TO_DONE_SECONDS.observe(max(0.0, (now - enqueued).total_seconds()))

    def _guarded(self, raw: bytes, step: Callable[..., T], *args: object) -> T | None:
        """Run one step for one payload; any exception but a Redis error makes the payload poison."""
        try:
            return step(*args)
        except redis.RedisError:
            raise
        except Exception as exc:
            self._poison(raw, exc)
            return None

    def _poison(self, raw: bytes, exc: Exception) -> None:
        metrics.TASKS.labels("poison").inc()
        log.error("Poison task sent to the dead-letter list (%s)", type(exc).__name__, exc_info=exc)
        error = f"poison task: {type(exc).__name__}: {exc}"
        try:
            self.queue.dead_letter(raw, DeadLetter.for_payload(raw, error=error, consumer=self.name))
        except redis.RedisError:
            raise
        except Exception:  # even the dead letter failed: keep the payload in the log, go on
            log.critical("Dropping a task that cannot even be dead-lettered: %.2000r", raw, exc_info=True)
            self.queue.drop(raw)

    # -- one task --------------------------------------------------------------------------
    def _parse(self, raw: bytes) -> Task | None:
        log.info("📨 Received new task from queue")
        try:
            return parse_task(raw)
        except InvalidTask as exc:
            metrics.TASKS.labels("invalid").inc()
            log.error("Invalid task sent to the dead-letter list (%s): %.200r", exc, raw)
            self.queue.dead_letter(raw, DeadLetter.for_payload(raw, error=f"invalid task: {exc}", consumer=self.name))
            return None

    def _handle(self, raw: bytes, task: Task, done_before: bool) -> Prepared | None:
        """The task's document, ready to be written, or None when its outcome is recorded
        already: skipped as done before, retried or dead-lettered."""
        if done_before:
            metrics.TASKS.labels("duplicate").inc()
            log.info("Task %s was already processed: skipped", task.task_id)
            self.queue.skip_done(raw, task)
            return None
        try:
            return self.prepare(raw, task)
        except redis.RedisError:
            raise  # the task stays held and is requeued once Redis is back
        except Exception as exc:
            self._fail(raw, task, exc)
            return None

    def prepare(self, raw: bytes, task: Task) -> Prepared:
        """Enrich the pet: the Wikipedia summary (cached), the facts, the document to write."""
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
        return Prepared(raw, task, document, processed_at, time.monotonic() - started)

    def _publish(self, items: list[Prepared]) -> list[Written]:
        """Write the batch's files together (worker/sinks.py); a task whose file cannot be written
        goes to the retry policy, like any failed step."""
        started = time.monotonic()
        written: list[Written] = []
        to_write: list[tuple[Prepared, ResultFile]] = []
        for item in items:
            found = self._guarded(item.raw, self._result_file, item)
            if isinstance(found, Written):
                written.append(found)
            elif found is not None:
                to_write.append((item, found))
        try:
            outcomes = self.sink.publish_many([file for _, file in to_write]) if to_write else []
        except redis.RedisError:
            raise
        except Exception as exc:  # the sink itself failed: every file of the batch did
            outcomes = [exc] * len(to_write)
        write_seconds = time.monotonic() - started
        for (item, _), outcome in zip(to_write, outcomes, strict=True):
            done = self._guarded(item.raw, self._published, item, outcome, write_seconds)
            if done is not None:
                written.append(done)
        return written

    def _result_file(self, item: Prepared) -> ResultFile | Written | None:
        """What to write for the task; Written if an earlier delivery wrote it; None if that
        could not be known (the task is retried)."""
        task = item.task
        when = task.enqueued_datetime()
        if when is None:
            # A task pushed by hand has no enqueue time, so its file name comes from now and would
            # differ on a redelivery: its result record (keyed by task id) says if it was written.
            try:
                earlier = self.results.find(task.task_id)
            except redis.RedisError:
                raise
            except Exception as exc:
                self._fail(item.raw, task, exc)
                return None
            if earlier is not None:
                log.info("Task %s was already written to %s by an earlier delivery", task.task_id, earlier.file)
                log.log(SUCCESS, "⏱️ Task processed in %.2fs", item.prepare_seconds)
                return Written(item.raw, task, earlier.file, None)
            when = item.processed_at
        return ResultFile(task.pet_id, task.name, when, item.document)

    def _published(self, item: Prepared, outcome: Published, write_seconds: float) -> Written | None:
        """The task's file written (or found written by an earlier delivery), or its failure."""
        task = item.task
        if isinstance(outcome, Exception):
            self._fail(item.raw, task, outcome)
            return None
        file_name, is_new = outcome
        if is_new:
            log.log(SUCCESS, "✅ Enriched data saved to: %s", file_name)
        else:
            log.info("Task %s was already written to %s by an earlier delivery", task.task_id, file_name)
        # The task's own time: its build, then the batch's write (not its batch-mates' builds)
        elapsed = item.prepare_seconds + write_seconds
        metrics.TASK_SECONDS.observe(elapsed)
        log.log(SUCCESS, "⏱️ Task processed in %.2fs", elapsed)
        return Written(item.raw, task, file_name, ResultRecord.from_enriched(item.document, file_name))

    def _fail(self, raw: bytes, task: Task, exc: Exception) -> None:
        """Another attempt later, or the dead-letter list: worker/retries.py decides."""
        decision = self.retries.decide(task, exc)
        failed = decision.task
        if isinstance(decision, Retry):
            metrics.TASKS.labels("retried").inc()
            log.warning(
                "Task %s failed (attempt %d of %d): %s; retrying in %.1fs",
                task.task_id, failed.attempts, self.retries.max_attempts, exc, decision.delay_seconds,
            )  # fmt: skip
            self.queue.retry_later(raw, failed, decision.delay_seconds)
            self._next_promote = 0.0  # look for it (and its due time) on the next turn of the loop
            return
        metrics.TASKS.labels("dead_lettered").inc()
        if decision.unexpected:
            log.exception("Task %s for pet %s failed, sent to the dead-letter list", task.task_id, task.pet_id)
        else:
            log.error("Task %s %s, sent to the dead-letter list: %s", task.task_id, decision.why, exc)
        self.queue.dead_letter(raw, DeadLetter.for_task(failed, consumer=self.name), failed)
