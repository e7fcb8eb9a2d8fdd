"""The floor consumer: the least a worker can do for the same task.

BLMOVE into a processing list, one Wikipedia request per species (kept in a dict), the same
enriched document, a temporary file + fsync + link into place, LREM. No retries, no heartbeat.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime

import redis
import requests

queue = redis.Redis.from_url(os.environ["REDIS_URL"])
processing = f"pets:floor-processing:{os.getpid()}"
api_url = os.environ["WIKIPEDIA_API_URL"]
out = os.environ["PROCESSED_DIR"]
summaries: dict[str, dict] = {}
session = requests.Session()


def summary(species: str) -> dict:
    if species not in summaries:
        summaries[species] = session.get(f"{api_url}/page/summary/{species.capitalize()}", timeout=5).json()
    return summaries[species]


def main() -> None:
    while True:
        raw = queue.blmove("pets:tasks", processing, 1, "LEFT", "LEFT")
        if raw is None:
            continue
        task = json.loads(raw)
        found = summary(task["species"])
        now = datetime.now(UTC)
        document = {
            "metadata": {"processed_by": "Floor", "processed_at": now.isoformat()},
            "original_data": task,
            "enriched_info": {
                "wikipedia": {"wikipedia_extract": found.get("extract"), "wikipedia_url": None, "thumbnail": None},
                "species_facts": {},
                "health_tips": ["tip"],
            },
            "statistics": {"total_tips": 1},
        }
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, os.path.join(out, f"{task['pet_id']}_{task['task_id']}.json"))
        os.unlink(tmp)
        queue.lrem(processing, 1, raw)  # type: ignore[arg-type]  # redis-py says str; bytes go as they are


if __name__ == "__main__":
    main()
