"""The result contracts: the enriched file a worker writes, and the record the API reads.

- The file: `processed_data/<pet_id>_<Name>_<YYYYmmdd_HHMMSS>.json`;
  files being written are hidden (`.<name>.tmp`) until an atomic link makes them visible.
- The record (`ResultRecord`): what the page and the API show of a processed task, kept by the
  worker in the MongoDB collection `RESULTS_COLLECTION` (its `_id` is the task id, so a redelivered
  task records nothing twice; indexed by pet and enqueue time). Readers never list the folder:
  machines that share no disk can serve results, and a page costs the same at any folder size.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from contracts.links import article_url, image_url

RESULTS_COLLECTION = "enrichment_result"
# Readers ask for the newest records of some pets; `_id` (the task id) is unique by itself.
RESULTS_INDEXES = [[("pet_id", 1), ("enqueued_at", -1)]]
RESULT_SUFFIX = ".json"
# The pet's fields an enriched result depends on (its facts and tips, its Wikipedia summary): the
# API queues a new task when one of these changes, and a result made before is stale.
ENRICHED_FIELDS = ("species", "age", "vaccinated")
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


@dataclass(frozen=True)
class ResultFile:
    """One result to write: its document, and what its file name is made of."""

    pet_id: str
    name: str
    when: datetime
    document: dict

    def body(self) -> bytes:
        # Byte for byte what json.dump(indent=2, ensure_ascii=False) writes, several times faster.
        return orjson.dumps(self.document, option=orjson.OPT_INDENT_2) + b"\n"


# What write_results says of each file: its path and whether it is new, or why it was not written.
WriteOutcome = tuple[Path, bool] | Exception
# Flushes open files to disk, an error or None for each, in order (write_results' `fsync_all`).
FsyncAll = Callable[[Sequence[int]], list[OSError | None]]


def fsync_one_by_one(fds: Sequence[int]) -> list[OSError | None]:
    return [fsync_file(fd) for fd in fds]


def write_results(
    directory: Path, files: Sequence[ResultFile], fsync_all: FsyncAll = fsync_one_by_one
) -> list[WriteOutcome]:
    """Write each file atomically under its own name, durable before this returns; for each, its
    path and whether it is new, or the error that kept it from being written.

    Each JSON goes to a hidden temporary file first. The batch's files are flushed to disk
    together (`fsync_all`: a consumer runs the fsyncs on threads, so the filesystem commits them
    in a few journal commits rather than one per file), then each is hard-linked to its final
    name: a reader never sees a partial file, and linking fails instead of replacing, so no
    result is ever overwritten. The folder is flushed last, once, so that the new names are
    durable too. If a file of the same task (same `metadata.task_id`) is already there, a
    redelivery is being processed: that file is kept and no second one is made. Another task that
    lands on the same name (same pet and second) gets a `_1`, `_2`... suffix.
    """
    hidden = [_write_hidden(directory, file) for file in files]
    try:
        flushed = iter(fsync_all([fd for fd, _ in _written(hidden)]))
        outcomes: list[WriteOutcome] = []
        for file, copy in zip(files, hidden, strict=True):
            if isinstance(copy, Exception):
                outcomes.append(copy)
            elif (error := next(flushed)) is not None:
                outcomes.append(error)
            else:
                outcomes.append(_link(directory, file, copy[1]))
        if any(not isinstance(outcome, Exception) and outcome[1] for outcome in outcomes):
            error = _fsync_directory(directory)
            if error is not None:  # the new names may not survive a crash: not written, then
                outcomes = [error if not isinstance(outcome, Exception) and outcome[1] else outcome
                            for outcome in outcomes]  # fmt: skip
        return outcomes
    finally:
        for fd, tmp_name in _written(hidden):
            os.close(fd)
            os.unlink(tmp_name)


def _write_hidden(directory: Path, file: ResultFile) -> tuple[int, str] | Exception:
    """The file's content in a hidden temporary file, still open (for its fsync)."""
    try:
        body = file.body()
        try:
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        except FileNotFoundError:  # the folder went away (or never was): made again, not checked per file
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    except Exception as exc:  # a document that cannot be encoded, a full disk: this file's error
        return exc
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:  # kept open for its fsync
            handle.write(body)
    except OSError as exc:
        os.close(fd)
        os.unlink(tmp_name)
        return exc
    return fd, tmp_name


def _written(hidden: list[tuple[int, str] | Exception]) -> list[tuple[int, str]]:
    return [copy for copy in hidden if not isinstance(copy, Exception)]


def _link(directory: Path, file: ResultFile, tmp_name: str) -> WriteOutcome:
    """Link the flushed temporary file to the first free name (or find the task's own file)."""
    task_id = file.document["metadata"]["task_id"]
    try:
        for attempt in range(1000):
            final = directory / result_filename(file.pet_id, file.name, file.when, attempt)
            try:
                os.link(tmp_name, final)
                return final, True
            except FileExistsError:
                if result_task_id(final) == task_id:
                    return final, False
        raise FileExistsError(f"no free result name for pet {file.pet_id} at {file.when:%Y%m%d_%H%M%S}")
    except OSError as exc:
        return exc


def fsync_file(fd: int) -> OSError | None:
    """Flush one open file to disk; its error, if any."""
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc
    return None


def _fsync_directory(directory: Path) -> OSError | None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return exc
    try:
        return fsync_file(fd)
    finally:
        os.close(fd)


def result_task_id(path: Path) -> str | None:
    """The task a result file was written for (None if it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metadata"]["task_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ResultRecord:
    """One processed task as readers see it; built from the enriched document, never by hand."""

    task_id: str
    pet_id: str
    file: str
    consumer: str
    processed_at: datetime
    enqueued_at: datetime
    attempt: int
    species: str  # the pet as it was enriched: a later change of these makes the result stale
    age: int
    vaccinated: bool
    wikipedia_status: str
    extract: str | None
    wikipedia_url: str | None
    thumbnail: str | None
    species_facts: dict
    health_tips: list[str]
    age_category: str

    @classmethod
    def from_enriched(cls, document: dict, file_name: str) -> ResultRecord:
        """The record of an enriched document (worker/enrichment.py builds it) written as `file_name`."""
        metadata, original = document["metadata"], document["original_data"]
        wikipedia = document["enriched_info"]["wikipedia"]
        processed_at = datetime.fromisoformat(metadata["processed_at"])
        enqueued = metadata.get("enqueued_at")
        return cls(
            task_id=metadata["task_id"],
            pet_id=original["pet_id"],
            file=file_name,
            consumer=metadata["processed_by"],
            processed_at=processed_at,
            enqueued_at=_aware(datetime.fromisoformat(enqueued)) if enqueued else processed_at,
            attempt=metadata.get("attempt", 1),
            species=original["species"],
            age=original["age"],
            vaccinated=original["vaccinated"],
            wikipedia_status=wikipedia["status"],
            extract=wikipedia["wikipedia_extract"],
            wikipedia_url=wikipedia["wikipedia_url"],
            thumbnail=wikipedia["thumbnail"],
            species_facts=document["enriched_info"]["species_facts"],
            health_tips=document["enriched_info"]["health_tips"],
            age_category=document["statistics"]["age_category"],
        )

    def to_document(self) -> dict:
        """The MongoDB document: `_id` is the task id (unique: one record per task)."""
        data = dict(vars(self))  # shallow: the record is written once, as it is
        data["_id"] = data.pop("task_id")
        return data

    @classmethod
    def from_document(cls, document: dict) -> ResultRecord | None:
        """A record read back (None if it is not one: it came from outside, read defensively)."""
        try:
            data = {name: document[name] for name in cls.__dataclass_fields__ if name != "task_id"}
            return cls(task_id=str(document["_id"]), **data)
        except (KeyError, TypeError):
            return None

    def is_current_for(self, pet: Mapping[str, object]) -> bool:
        """Was this result made from the pet as it is now (its ENRICHED_FIELDS unchanged)?"""
        return all(getattr(self, field) == pet[field] for field in ENRICHED_FIELDS)

    def to_api(self) -> dict:
        """The record as `GET /api/pets/<id>/enrichment/` shows it (links checked again).

        Shallow, like to_document: asdict() deep-copies the facts and tips, a tenth of a worker's
        CPU per task when profiled (each finished task announces its result), for a dict that is
        only ever serialized."""
        data = dict(vars(self))
        data["wikipedia_url"] = article_url(self.wikipedia_url)
        data["thumbnail"] = image_url(self.thumbnail)
        return data


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
