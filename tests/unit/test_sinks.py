"""The folder sink publishes a batch with its fsyncs on threads: every file or its own error."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from contracts.results import ResultFile
from worker import sinks
from worker.sinks import FolderSink

WHEN = datetime(2026, 2, 3, 13, 49, 40, tzinfo=UTC)


def test_the_folder_sink_flushes_a_batch_on_its_threads_and_names_each_file(tmp_path, monkeypatch):
    flushed_on: set[str] = set()
    real_fsync = sinks.fsync_file

    def fsync_file(fd: int) -> OSError | None:
        flushed_on.add(threading.current_thread().name)
        return real_fsync(fd)

    monkeypatch.setattr(sinks, "fsync_file", fsync_file)
    sink = FolderSink(tmp_path / "processed_data", fsync_threads=4)
    sink.prepare()
    documents = [{"metadata": {"task_id": f"t{number}"}, "n": number} for number in range(12)]
    documents[5]["n"] = object()  # not JSON: this one fails alone
    outcomes = sink.publish_many([ResultFile(f"p{number}", "Luna", WHEN, doc) for number, doc in enumerate(documents)])
    assert isinstance(outcomes[5], TypeError)
    names = [outcome for number, outcome in enumerate(outcomes) if number != 5]
    assert names == [(f"p{number}_Luna_20260203_134940.json", True) for number in range(12) if number != 5]
    for number in (0, 11):
        written = tmp_path / "processed_data" / f"p{number}_Luna_20260203_134940.json"
        assert json.loads(written.read_text())["n"] == number
    assert flushed_on and all(name.startswith("fsync") for name in flushed_on)
