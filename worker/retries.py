"""What becomes of a task that failed: another attempt later, or the dead-letter list.

The policy, kept out of the consumer loop (as Dramatiq keeps it in its Retries middleware):
- transient errors (Wikipedia down or throttling us, the disk full or unwritable, MongoDB
  unreachable) are retried with capped exponential backoff and jitter, honouring a Retry-After
  within the cap, until `max_attempts` attempts have failed;
- anything else is dead-lettered at once, since another attempt would fail the same way: an answer
  Wikipedia must not give (WikipediaRefused) or an unexpected exception (a bug).
A 404 or a disambiguation page is an answer, not a failure; it never reaches this module.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pymongo.errors import ConnectionFailure

from contracts.tasks import Task
from worker.wikipedia import WikipediaRefused, WikipediaUnavailable

TRANSIENT_ERRORS = (WikipediaUnavailable, OSError, ConnectionFailure)


def exponential_delay(attempt: int, base: float, cap: float) -> float:
    """base, 2*base, 4*base... capped, with jitter so failing consumers do not retry in step."""
    return min(cap, base * 2 ** max(attempt - 1, 0)) * random.uniform(0.5, 1.0)


class Backoff:
    """Reconnection delays (for Redis): capped, exponential, jittered; reset on success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return exponential_delay(self.failures, self.base, self.cap)

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class Retry:
    task: Task  # with this failure counted
    delay_seconds: float


@dataclass(frozen=True)
class GiveUp:
    task: Task  # with this failure counted
    why: str  # for the log: "failed 5 times", "refused"...
    unexpected: bool = False  # a bug, most likely: worth a traceback in the log


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def decide(self, task: Task, exc: Exception) -> Retry | GiveUp:
        failed = task.after_failure(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, WikipediaRefused):
            return GiveUp(failed, "refused")
        if not isinstance(exc, TRANSIENT_ERRORS):
            return GiveUp(failed, "failed unexpectedly", unexpected=True)
        if failed.attempts >= self.max_attempts:
            return GiveUp(failed, f"failed {failed.attempts} times")
        delay = exponential_delay(failed.attempts, self.base_seconds, self.max_seconds)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # honoured, within the retry maximum
            delay = min(max(delay, retry_after), self.max_seconds)
        return Retry(failed, delay)
