"""Where a consumer publishes the enriched file: the shared folder (the default), or an S3 bucket.

Both keep the file name and content contracts/results.py defines, and the same promise:
exactly one file per task. A name already taken by the same task (a redelivery) is kept as it is;
taken by another task (same pet, same second) the next `_1`, `_2`... name is used. The result
record in MongoDB stays what the API and the page read, so consumers on machines that share no disk
publish to a bucket (RESULTS_SINK=s3) and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from contracts.results import ResultFile, fsync_file, fsync_one_by_one, result_filename, write_results

MAX_NAME_ATTEMPTS = 1000
FSYNC_THREADS = 8  # a batch's files flushed at once, at most

# What a sink says of each file: its name and whether it is new, or why it was not published.
Published = tuple[str, bool] | Exception


class SinkUnavailable(OSError):
    """The bucket could not be written (unreachable, throttling, refusing): retried like a full
    disk (an OSError, worker/retries.py), then dead-lettered with the reason."""


class ResultSink(Protocol):
    def publish_many(self, files: Sequence[ResultFile]) -> list[Published]:
        """Publish a batch's documents under their file names, each durable once this returns."""
        ...

    def prepare(self) -> None:
        """Make sure the destination can be written (called once at start; may raise)."""
        ...


class FolderSink:
    """PROCESSED_DIR on a disk the API and the other consumers share.

    A batch's files are flushed to disk together, on threads of the sink's own: the filesystem
    then commits them in a few journal commits instead of one per file, which is most of what
    writing a file costs (contracts/results.write_results).
    """

    def __init__(self, directory: Path, fsync_threads: int = FSYNC_THREADS) -> None:
        self.directory = directory
        self._fsyncs = ThreadPoolExecutor(max_workers=fsync_threads, thread_name_prefix="fsync")

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def publish_many(self, files: Sequence[ResultFile]) -> list[Published]:
        outcomes = write_results(self.directory, files, self._fsync_all)
        return [outcome if isinstance(outcome, Exception) else (outcome[0].name, outcome[1]) for outcome in outcomes]

    def _fsync_all(self, fds: Sequence[int]) -> list[OSError | None]:
        if len(fds) < 2:
            return fsync_one_by_one(fds)
        return list(self._fsyncs.map(fsync_file, fds))


class S3Sink:
    """An S3-compatible bucket (AWS, MinIO, Ceph...): one object per task, never overwritten.

    Each put is conditional (`If-None-Match: *`): it fails instead of replacing an object, as the
    folder sink's hard link does, and the object's `task-id` metadata tells a redelivery (keep it)
    from another task that took the name (try the next one).
    """

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:  # noqa: ANN401 (a boto3 S3 client)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def prepare(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def publish_many(self, files: Sequence[ResultFile]) -> list[Published]:
        outcomes: list[Published] = []
        for file in files:
            try:
                outcomes.append(self.publish(file.pet_id, file.name, file.when, file.document))
            except Exception as exc:  # this file's error: its task goes to the retry policy
                outcomes.append(exc)
        return outcomes

    def publish(self, pet_id: str, name: str, when: datetime, document: dict) -> tuple[str, bool]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._publish(pet_id, name, when, document)
        except (BotoCoreError, ClientError) as exc:
            raise SinkUnavailable(f"s3://{self.bucket}/{self.prefix}: {exc}") from exc

    def _publish(self, pet_id: str, name: str, when: datetime, document: dict) -> tuple[str, bool]:
        from botocore.exceptions import ClientError

        task_id = document["metadata"]["task_id"]
        body = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
        for attempt in range(MAX_NAME_ATTEMPTS):
            file_name = result_filename(pet_id, name, when, attempt)
            key = self.prefix + file_name
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    Metadata={"task-id": task_id},
                    IfNoneMatch="*",
                )
                return file_name, True
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                    raise
            existing = self.client.head_object(Bucket=self.bucket, Key=key).get("Metadata", {})
            if existing.get("task-id") == task_id:
                return file_name, False
        raise FileExistsError(f"no free result name for pet {pet_id} at {when:%Y%m%d_%H%M%S}")


def s3_client(endpoint_url: str | None, timeout_seconds: float) -> Any:  # noqa: ANN401 (boto3's client type)
    """A boto3 S3 client; credentials and region come from boto3's usual places (AWS_* variables,
    ~/.aws, an instance or pod role)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds, retries={"max_attempts": 2})
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)
