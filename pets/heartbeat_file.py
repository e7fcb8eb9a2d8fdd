"""A file whose modification time says a loop is still going round: the outbox relay touches it
every round, and a container health check (compose, a Kubernetes exec probe) runs

    python -m pets.heartbeat_file PATH MAX_AGE_SECONDS

which exits 1 when the file is missing or older than that. No Django here, so the check costs a
bare interpreter start every few seconds, not Django's set-up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def beat(path: Path) -> None:
    """Say the loop went round now (creates the file the first time)."""
    path.touch()


def staleness(path: Path, max_age: float) -> str | None:
    """Why the heartbeat in `path` is not current, or None when it is."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the loop has not gone round yet"
    if age > max_age:
        return f"{path} is {age:.0f}s old (more than {max_age:g}s): the loop is stuck or stopped"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m pets.heartbeat_file PATH MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    try:
        max_age = float(argv[1])
    except ValueError:
        print(f"MAX_AGE_SECONDS must be a number, not {argv[1]!r}", file=sys.stderr)
        return 2
    problem = staleness(Path(argv[0]), max_age)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
