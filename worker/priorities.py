"""Which priority's list a consumer takes from first: high, unless a lower one has waited too long.

Strict priority starves: under a steady stream of high tasks a low one would wait forever. So a
consumer looks at the heads of the normal and low lists now and then (every `check_seconds`, one
round trip); a head that has stayed the head for `max_wait_seconds` makes the next take start with
its list. The task at the head of any list is thus taken within about `max_wait_seconds` +
`check_seconds`, however many high tasks keep coming, while high tasks queued behind lower ones
still go first (20 high behind 400 others: the 20 first). How long a head has been the head is
measured by the consumer itself, so tasks pushed by hand without an enqueue time are covered too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from contracts.tasks import HIGH, LOW, NORMAL, PRIORITIES

HIGH_FIRST = (HIGH, NORMAL, LOW)
Heads = Mapping[str, bytes | None]  # the payload at the head of the normal and low lists


class PriorityAging:
    def __init__(self, max_wait_seconds: float, check_seconds: float = 0.25) -> None:
        self.max_wait_seconds = max_wait_seconds
        self.check_seconds = check_seconds
        self._next_check = 0.0
        self._first_seen: dict[str, tuple[bytes, float]] = {}  # priority -> (its head, when first seen)

    def order(self, read_heads: Callable[[], Heads], now: float | None = None) -> tuple[str, ...]:
        """The order of the lists for the next take (`read_heads` is called only when it is time)."""
        now = time.monotonic() if now is None else now
        if now < self._next_check:
            return HIGH_FIRST
        self._next_check = now + self.check_seconds
        heads = read_heads()
        overdue = [priority for priority in (LOW, NORMAL) if self._waited_too_long(priority, heads, now)]
        if not overdue:
            return HIGH_FIRST
        return (*overdue, *(priority for priority in PRIORITIES if priority not in overdue))

    def _waited_too_long(self, priority: str, heads: Heads, now: float) -> bool:
        head = heads.get(priority)
        seen = self._first_seen.get(priority)
        if head is None:
            self._first_seen.pop(priority, None)
            return False
        if seen is None or seen[0] != head:
            self._first_seen[priority] = (head, now)
            return False
        return now - seen[1] >= self.max_wait_seconds
