"""The consumer's policies in process: what to do with a failure, how many tasks to take at once."""

from __future__ import annotations

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from contracts.tasks import build_task
from worker.prefetch import Prefetch
from worker.retries import GiveUp, Retry, RetryPolicy, exponential_delay
from worker.wikipedia import WikipediaRefused, WikipediaUnavailable

POLICY = RetryPolicy(max_attempts=3, base_seconds=2, max_seconds=10)


def task(attempts: int = 0):
    fresh = build_task(pet_id="p1", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=True, reason="created")
    for _ in range(attempts):
        fresh = fresh.after_failure("earlier")
    return fresh


@pytest.mark.parametrize(
    "error", [WikipediaUnavailable("HTTP 503"), OSError("disk full"), ServerSelectionTimeoutError("no MongoDB")]
)
def test_transient_errors_are_retried_with_the_failure_counted(error):
    decision = POLICY.decide(task(), error)
    assert isinstance(decision, Retry)
    assert decision.task.attempts == 1 and decision.task.last_error == f"{type(error).__name__}: {error}"
    assert 1 <= decision.delay_seconds <= 2  # base 2 s, jittered down to half


def test_the_last_allowed_attempt_gives_up_and_says_how_many():
    decision = POLICY.decide(task(attempts=2), WikipediaUnavailable("HTTP 503"))
    assert decision == GiveUp(decision.task, "failed 3 times")
    assert decision.task.attempts == 3 and not decision.unexpected


def test_refused_answers_and_bugs_are_not_retried():
    refused = POLICY.decide(task(), WikipediaRefused("redirect outside the API"))
    assert isinstance(refused, GiveUp) and refused.why == "refused" and not refused.unexpected
    bug = POLICY.decide(task(), KeyError("extract"))
    assert isinstance(bug, GiveUp) and bug.unexpected


def test_retry_after_is_honoured_within_the_cap():
    asked = WikipediaUnavailable("HTTP 429")
    asked.retry_after = 7
    assert POLICY.decide(task(), asked).delay_seconds == 7  # type: ignore[union-attr]
    asked.retry_after = 3600
    assert POLICY.decide(task(), asked).delay_seconds == 10  # type: ignore[union-attr]


def test_backoff_doubles_and_is_capped():
    delays = [exponential_delay(attempt, 1, 8) for attempt in range(1, 8)]
    assert all(0.5 * min(8, 2 ** (n - 1)) <= d <= min(8, 2 ** (n - 1)) for n, d in enumerate(delays, start=1))


def test_prefetch_starts_at_one_and_takes_about_the_budget_of_cheap_tasks():
    prefetch = Prefetch(limit=20, budget_seconds=0.05)
    assert prefetch.size() == 1  # nothing known yet
    prefetch.observe(tasks=1, seconds=0.005)
    assert prefetch.size() == 10
    for _ in range(50):
        prefetch.observe(tasks=10, seconds=0.001 * 10)
    assert prefetch.size() == 20  # 1 ms tasks: the limit


def test_prefetch_drops_to_one_at_once_when_tasks_turn_slow():
    prefetch = Prefetch(limit=20, budget_seconds=0.05)
    prefetch.observe(tasks=20, seconds=0.02)
    assert prefetch.size() == 20
    prefetch.observe(tasks=20, seconds=20 * 0.2)  # Wikipedia now answers in 200 ms
    assert prefetch.size() == 1


def test_prefetch_limit_one_always_takes_one():
    prefetch = Prefetch(limit=1)
    prefetch.observe(tasks=1, seconds=0.0001)
    assert prefetch.size() == 1


def test_one_behind_runs_one_job_at_a_time_and_raises_its_error_to_the_caller():
    """worker/overlap.py: a batch is closed while the next is processed, never two at once, and
    a failure to close one reaches the loop (at the next hand-over, or when it waits)."""
    import threading

    from worker.overlap import OneBehind

    closing = OneBehind("test")
    release, order = threading.Event(), []
    closing.submit(lambda: (release.wait(5), order.append("first")))
    order.append("caller goes on")  # the caller is not held by the job in progress
    release.set()
    closing.submit(lambda: order.append("second"))  # waits for the first, then starts
    closing.wait()
    assert order == ["caller goes on", "first", "second"]

    def fail() -> None:
        raise ConnectionError("redis went away")

    closing.submit(fail)
    with pytest.raises(ConnectionError):
        closing.submit(lambda: None)
    closing.submit(fail)
    closing.settle()  # logged, not raised: the tasks stay held and are recovered
    closing.wait()  # nothing left in progress
