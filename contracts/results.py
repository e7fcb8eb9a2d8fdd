"""The enriched-file contract: where a worker writes a result and how the API finds it.

`processed_data/<pet_id>_<Name>_<YYYYmmdd_HHMMSS>.json`; files being written are hidden
(`.<name>.tmp`) until an atomic link makes them visible under their final name.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from datetime import datetime
from pathlib import Path

RESULT_SUFFIX = ".json"
_UNSAFE = re.compile(r"[^\w.-]+")  # \w is Unicode-aware: "Señor" stays "Señor"
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9-]+")  # no "_": it separates the id from the name
MAX_NAME_PART = 60


def safe_name_part(name: str) -> str:
    """A pet name made safe for a file name: spaces become underscores, the rest is dropped."""
    underscored = "_".join(unicodedata.normalize("NFC", name).split())
    cleaned = _UNSAFE.sub("", underscored).strip("._-")
    return cleaned[:MAX_NAME_PART] or "pet"


def safe_pet_id(pet_id: str) -> str:
    return _UNSAFE_ID.sub("", pet_id)[:64] or "unknown"


def result_filename(pet_id: str, name: str, when: datetime, attempt: int = 0) -> str:
    """`<pet_id>_<Name>_<YYYYmmdd_HHMMSS>.json`; `attempt` > 0 only when that name is taken."""
    stem = f"{safe_pet_id(pet_id)}_{safe_name_part(name)}_{when:%Y%m%d_%H%M%S}"
    if attempt:
        stem += f"_{attempt}"
    return stem + RESULT_SUFFIX


def write_result(directory: Path, pet_id: str, name: str, when: datetime, document: dict) -> tuple[Path, bool]:
    """Write `document` atomically under its own name; return the path and whether it is new.

    The JSON goes to a hidden temporary file first, is flushed to disk, then hard-linked to its
    final name: a reader never sees a partial file, and linking fails instead of replacing, so no
    result is ever overwritten. If a file of the same task (same `metadata.task_id`) is already
    there, a redelivery is being processed: that file is kept and no second one is made.
    Another task that lands on the same name (same pet and second) gets a `_1`, `_2`... suffix.
    """
    task_id = document["metadata"]["task_id"]
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in range(1000):
            final = directory / result_filename(pet_id, name, when, attempt)
            try:
                os.link(tmp_name, final)
                return final, True
            except FileExistsError:
                if result_task_id(final) == task_id:
                    return final, False
        raise FileExistsError(f"no free result name for pet {pet_id} at {when:%Y%m%d_%H%M%S}")
    finally:
        os.unlink(tmp_name)


def result_task_id(path: Path) -> str | None:
    """The task a result file was written for (None if it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metadata"]["task_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def latest_results(directory: Path, pet_ids: set[str]) -> dict[str, Path]:
    """The newest result file of each of `pet_ids` (one directory scan, whatever the count)."""
    wanted = {safe_pet_id(pet_id): pet_id for pet_id in pet_ids}
    found: dict[str, Path] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(RESULT_SUFFIX):
            continue
        pet_id = wanted.get(entry.name.split("_", 1)[0])
        if pet_id is None:
            continue
        current = found.get(pet_id)
        if current is None or _sort_key(entry.name) > _sort_key(current.name):
            found[pet_id] = Path(entry.path)
    return found


def _sort_key(filename: str) -> tuple[str, int]:
    """Order results by their timestamp, then by the collision counter."""
    stem = filename[: -len(RESULT_SUFFIX)]
    parts = stem.split("_")
    if len(parts) >= 4 and parts[-1].isdigit() and len(parts[-1]) < 6:
        return ("_".join(parts[-3:-1]), int(parts[-1]))
    return ("_".join(parts[-2:]), 0)
