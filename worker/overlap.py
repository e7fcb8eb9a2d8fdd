"""A batch is closed on a thread of its own while the loop goes on with the next one.

Closing a batch means writing its result records to MongoDB, then marking its tasks done in Redis
(worker/runner.py, `Consumer._close`): two round trips, the first acknowledged only once the
database has made the records durable. The consumer used to wait for both before taking more
work; now it takes and processes the next batch meanwhile.

What a finished task guarantees is unchanged: its file is written (fsync'd, linked into place,
its folder fsync'd) before its batch is handed over, its record is durable before its task leaves the processing list,
and a task is done only once it has left it. At most one batch is being closed: handing over the
next waits for it, so a consumer holds at most two batches, both in its processing list until
closed, and a crash loses nothing (redelivered, they find their files and records and write none
again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("worker")


class OneBehind:
    """Runs one job at a time on a thread of its own, the caller one job ahead of it."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._running: Future[None] | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Start `job` once the previous one is over; the previous one's exception is raised here."""
        self.wait()
        self._running = self._executor.submit(job)

    def wait(self) -> None:
        """Return once the job in progress (if any) is over; its exception is raised here."""
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def settle(self) -> None:
        """wait(), for a consumer that is about to requeue what it holds or to stop: the job's
        error is logged, not raised (its tasks are still held, so they are recovered)."""
        try:
            self.wait()
        except Exception as exc:  # the loop handles the outage that caused it
            log.warning("Closing the last batch failed; its tasks stay held and are recovered: %s", exc)
