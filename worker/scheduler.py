"""Housekeeping as a role of its own: `python consumer.py scheduler`.

Every consumer already does it between tasks (worker/runner.py): move the retries that are due
back to their lists, and take back the tasks of consumers whose heartbeat lapsed. With consumers
scaled by queue length (KEDA, deploy/k8s/), there may be none: then nothing would promote a due
retry, and a retry is not in a list an autoscaler watches. The scheduler does the same two things
without taking tasks. Both are single atomic Redis scripts, so several schedulers (and consumers)
may run them at once: nothing is moved twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import redis

from worker.broker import TaskQueue
from worker.retries import Backoff

log = logging.getLogger("worker.scheduler")

TICK_SECONDS = 0.25  # the longest a due retry waits for the scheduler


class Scheduler:
    def __init__(self, queue: TaskQueue, reap_interval_seconds: float) -> None:
        self.queue = queue
        self.reap_interval_seconds = reap_interval_seconds
        self._stop = threading.Event()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop.set())

    def run(self) -> int:
        log.info("Scheduler started: promoting due retries, reaping lapsed consumers")
        backoff = Backoff()
        next_reap = 0.0
        enlisted = False
        while not self._stop.is_set():
            try:
                if not enlisted:  # once, when Redis first answers
                    self.queue.enlist_unregistered()
                    enlisted = True
                now = time.monotonic()
                if now >= next_reap:
                    for owner, count in self.queue.reap_orphans().items():
                        log.warning("Requeued %d task(s) held by %s, whose heartbeat lapsed", count, owner)
                    next_reap = now + self.reap_interval_seconds
                next_due = self.queue.promote_due()
                backoff.reset()
                self._stop.wait(TICK_SECONDS if next_due is None else min(max(next_due, 0.01), TICK_SECONDS))
            except redis.RedisError as exc:
                delay = backoff.next_delay()
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                self._stop.wait(delay)
        log.info("Scheduler stopped")
        return 0
