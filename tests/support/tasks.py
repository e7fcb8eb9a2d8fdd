"""Tasks pushed by hand and the result files consumers write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.tasks import NORMAL, build_task, push_task
from tests.support.processes import wait_until

# A pet id of the right shape for tasks pushed by hand.
PET_ID = "6981fcf3dd7c1b67498baf89"


def push(redis_client, priority: str = NORMAL, **overrides) -> dict:
    """Queue a task as the API does (its priority's list, and a token that wakes a consumer)."""
    fields: dict[str, Any] = {
        "pet_id": PET_ID,
        "name": "Mishi",
        "species": "Cat",
        "age": 2,
        "owner": "Ana Garcia",
        "vaccinated": False,
    }
    fields.update(overrides)
    task = build_task(**fields, reason="created", priority=priority)
    with redis_client.pipeline() as pipe:
        push_task(pipe, task.to_json(), priority)
        pipe.execute()
    return json.loads(task.to_json())


def result_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.json")) if directory.exists() else []


def wait_for_files(directory: Path, count: int, timeout: float = 20) -> list[Path]:
    return wait_until(
        lambda: len(result_files(directory)) >= count and result_files(directory), timeout, what=f"{count} files"
    )
