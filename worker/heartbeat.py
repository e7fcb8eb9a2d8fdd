"""A background thread that keeps this consumer's heartbeat key alive in Redis.

It runs beside the task loop, so a slow task never lets the heartbeat lapse: only a dead (or
frozen) process does, and then the other consumers take its tasks back (TaskQueue.reap_orphans).
"""

from __future__ import annotations

import logging
import threading

import redis

from worker.broker import TaskQueue

log = logging.getLogger("worker.heartbeat")


class Heartbeat:
    def __init__(self, queue: TaskQueue, ttl_seconds: float) -> None:
        self.queue = queue
        self.ttl_seconds = ttl_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        interval = self.ttl_seconds / 3
        while True:
            try:
                self.queue.beat(self.ttl_seconds)
            except redis.RedisError as exc:
                log.debug("heartbeat not sent: %s", exc)
            if self._stopped.wait(interval):
                return

    def stop(self) -> None:
        """Stop beating and say goodbye, so nobody waits for our heartbeat to lapse."""
        self._stopped.set()
        self._thread.join(timeout=5)
        try:
            self.queue.clear_heartbeat()
        except redis.RedisError:
            pass
