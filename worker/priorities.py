"""Which priority's list a consumer looks at first: high, except on a fixed share of its takes.

Strict priority would starve: under a steady stream of high tasks a low one would wait forever.
So one take in `low_every` starts with the low list, and one in `normal_every` with the normal
list; the others start with high. Under any load, then, the task at the head of the low list is
taken within `low_every` takes of any one consumer (about `low_every` × 50 ms, a batch being sized
to ~50 ms of work), and a high task still gets most takes. Like Sidekiq's weighted queues, but
counted rather than random, so the bound is a bound. A take that finds nothing does not count.
"""

from __future__ import annotations

from contracts.queue import HIGH, LOW, NORMAL

HIGH_FIRST = (HIGH, NORMAL, LOW)
NORMAL_FIRST = (NORMAL, HIGH, LOW)
LOW_FIRST = (LOW, NORMAL, HIGH)


class PriorityTurns:
    def __init__(self, normal_every: int = 4, low_every: int = 10) -> None:
        self.normal_every = normal_every
        self.low_every = low_every
        self._turn = 0

    def order(self) -> tuple[str, str, str]:
        """The order of the lists for this take."""
        turn = self._turn + 1
        if turn % self.low_every == 0:
            return LOW_FIRST
        if turn % self.normal_every == 0:
            return NORMAL_FIRST
        return HIGH_FIRST

    def taken(self) -> None:
        """A take found tasks: the next one is the next turn."""
        self._turn += 1
