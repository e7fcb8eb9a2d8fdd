"""Unit tests of the shared contracts: task payloads, result file names and writes, Redis URL."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime

import pytest

from contracts import results
from contracts.tasks import InvalidTask, build_task, parse_task, processing_key
from infra.redis_url import redis_url_from_env

WHEN = datetime(2026, 2, 3, 13, 49, 40, tzinfo=UTC)


def test_built_task_round_trips_through_the_parser():
    task = build_task(pet_id="abc", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=True, reason="created")
    parsed = parse_task(task.to_json())
    assert parsed == task
    assert len(task.task_id) == 32 and task.enqueued_at.endswith("+00:00")


def test_seed_shaped_task_gets_a_stable_id():
    raw = '{"pet_id":"p1","name":"Luna","species":"Cat","age":3,"owner":"Ana","vaccinated":true}'
    assert parse_task(raw).task_id == parse_task(raw).task_id
    assert parse_task(raw).task_id.startswith("manual-")


@pytest.mark.parametrize(
    "raw",
    [
        "nope",
        "[]",
        "{}",
        '{"pet_id": "", "name": "A", "species": "Cat", "age": 1}',
        '{"pet_id": 5, "name": "A", "species": "Cat", "age": 1}',
        '{"pet_id": "p", "name": "A", "species": "Cat", "age": true}',
        '{"pet_id": "p", "name": "A", "species": "Cat", "age": -1}',
        '{"pet_id": "p", "name": "A", "species": "Cat", "age": 1, "vaccinated": "yes"}',
        '{"pet_id": "p", "name": "", "species": "Cat", "age": 1}',
        b"\xff\xfe",
    ],
)
def test_unusable_payloads_raise_invalid_task(raw):
    with pytest.raises(InvalidTask):
        parse_task(raw)


def test_processing_key_is_per_consumer():
    assert processing_key("Consumer-2") == "pets:processing:Consumer-2"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mishi", "Mishi"),
        ("Señor Bigotes", "Señor_Bigotes"),
        ("  two   spaces ", "two_spaces"),
        ("../../etc/passwd", "etcpasswd"),
        ("a\x00b\nc", "ab_c"),
        ("🐶", "pet"),
        ("x" * 500, "x" * 60),
    ],
)
def test_name_part_is_safe(name, expected):
    assert results.safe_name_part(name) == expected


def test_result_filename_matches_the_seed():
    assert (
        results.result_filename("6981fcf3dd7c1b67498baf89", "Mishi", WHEN)
        == "6981fcf3dd7c1b67498baf89_Mishi_20260203_134940.json"
    )


def doc(task_id: str, n: int = 0) -> dict:
    return {"metadata": {"task_id": task_id}, "n": n}


def write_one(directory, pet_id: str, name: str, when: datetime, document: dict):
    """A batch of one: its path and whether it is new (its error raised)."""
    outcome = results.write_results(directory, [results.ResultFile(pet_id, name, when, document)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def test_write_result_is_atomic_and_never_overwrites(tmp_path):
    first, first_new = write_one(tmp_path, "p1", "Luna", WHEN, doc("t1", 1))
    second, second_new = write_one(tmp_path, "p1", "Luna", WHEN, doc("t2", 2))
    assert first_new and second_new
    assert first.name == "p1_Luna_20260203_134940.json"
    assert second.name == "p1_Luna_20260203_134940_1.json"
    assert json.loads(first.read_text())["n"] == 1 and json.loads(second.read_text())["n"] == 2
    assert sorted(os.listdir(tmp_path)) == [first.name, second.name]  # no temporary file left


def test_a_results_folder_removed_while_running_is_made_again(tmp_path):
    folder = tmp_path / "processed_data" / "nested"
    written, new = write_one(folder, "p1", "Luna", WHEN, doc("t1", 1))
    assert new and written.parent == folder and json.loads(written.read_text())["n"] == 1


def test_a_redelivered_task_keeps_its_first_file(tmp_path):
    write_one(tmp_path, "p1", "Luna", WHEN, doc("t1", 1))
    write_one(tmp_path, "p1", "Luna", WHEN, doc("t2", 2))
    again, new = write_one(tmp_path, "p1", "Luna", WHEN, doc("t2", 3))
    assert not new and again.name == "p1_Luna_20260203_134940_1.json"
    assert json.loads(again.read_text())["n"] == 2
    assert len(os.listdir(tmp_path)) == 2


def test_a_batch_is_flushed_together_and_each_file_keeps_its_own_outcome(tmp_path):
    """One fsync_all call for the batch; a file that cannot be encoded or flushed is not written
    (its error comes back in its place) and its batch-mates are; nothing hidden is left."""
    write_one(tmp_path, "p1", "Luna", WHEN, doc("t1", 1))  # delivered before
    flushed: list[list[int]] = []

    def fsync_all(fds):
        flushed.append(list(fds))
        return [OSError(5, "I/O error") if number == 3 else results.fsync_file(fd) for number, fd in enumerate(fds)]

    files = [results.ResultFile("p1", "Luna", WHEN, document) for document in (
        doc("t1", 9),  # a redelivery: its first file is kept
        doc("t2", 2),  # another task on the same name: the next one
        {"metadata": {"task_id": "t3"}, "n": {1, 2}},  # a set: JSON cannot say it
        doc("t4", 4),
        doc("t5", 5),  # flushing it fails
    )]  # fmt: skip
    outcomes = results.write_results(tmp_path, files, fsync_all)
    assert [len(fds) for fds in flushed] == [4]
    assert outcomes[0] == (tmp_path / "p1_Luna_20260203_134940.json", False)
    assert outcomes[1] == (tmp_path / "p1_Luna_20260203_134940_1.json", True)
    assert isinstance(outcomes[2], TypeError) and isinstance(outcomes[4], OSError)
    assert outcomes[3] == (tmp_path / "p1_Luna_20260203_134940_2.json", True)
    assert json.loads((tmp_path / "p1_Luna_20260203_134940.json").read_text())["n"] == 1
    assert sorted(os.listdir(tmp_path)) == [f"p1_Luna_20260203_134940{suffix}.json" for suffix in ("", "_1", "_2")]


def test_result_record_round_trip_from_the_enriched_document():
    from contracts.results import ResultRecord
    from contracts.tasks import build_task
    from worker.enrichment import build_document
    from worker.wikipedia import FOUND, Summary

    task = build_task(pet_id="p1", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=False, reason="created")
    summary = Summary(FOUND, "Cat", "A cat.", "https://en.wikipedia.org/wiki/Cat", "https://upload.wikimedia.org/c.jpg")
    document = build_document(task, summary, consumer_name="Consumer-2", processed_at=WHEN, duration_seconds=0.1)
    record = ResultRecord.from_enriched(document, "p1_Luna_20260203_134940.json")
    assert record.task_id == task.task_id and record.pet_id == "p1" and record.consumer == "Consumer-2"
    assert record.enqueued_at == task.enqueued_datetime() and record.attempt == 1
    assert record.health_tips == document["enriched_info"]["health_tips"] and record.age_category == "Adult"
    stored = record.to_document()
    assert stored["_id"] == task.task_id and "task_id" not in stored
    assert ResultRecord.from_document(stored) == record
    assert ResultRecord.from_document({"_id": "x"}) is None
    assert record.is_current_for({"species": "Cat", "age": 3, "vaccinated": False, "name": "Renamed"})
    assert not record.is_current_for({"species": "Cat", "age": 4, "vaccinated": False})
    hostile = dataclasses.replace(record, wikipedia_url="javascript:alert(1)", thumbnail="http://10.0.0.1/x")
    assert hostile.to_api()["wikipedia_url"] is None and hostile.to_api()["thumbnail"] is None


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "redis://127.0.0.1:6379/0"),
        ({"REDIS_URL": "redis://r:1/2"}, "redis://r:1/2"),
        ({"REDIS_HOST": "redis", "REDIS_PORT": "6380"}, "redis://redis:6380/0"),
        ({"REDIS_URL": "redis://a:1/0", "REDIS_HOST": "b"}, "redis://a:1/0"),
    ],
)
def test_redis_url_from_env(env, url):
    assert redis_url_from_env(env) == url


def test_events_read_back_only_when_they_are_ours(redis_client):
    from contracts.events import EVENTS_KEY, PET_DELETED, Event, add_event

    with redis_client.pipeline() as pipe:
        add_event(pipe, PET_DELETED, {"pet_id": "p1"})
        pipe.execute()
    redis_client.xadd(EVENTS_KEY, {"type": "pet.exploded", "data": "{}"})
    redis_client.xadd(EVENTS_KEY, {"type": PET_DELETED, "data": "not json"})
    redis_client.xadd(EVENTS_KEY, {"something": "else"})
    entries = redis_client.xrange(EVENTS_KEY)
    events = [Event.from_entry(entry_id, fields) for entry_id, fields in entries]
    assert events[0] == Event(entries[0][0].decode(), PET_DELETED, {"pet_id": "p1"})
    assert events[1:] == [None, None, None]
    assert events[0].to_sse() == b'id: %s\nevent: pet.deleted\ndata: {"pet_id":"p1"}\n\n' % entries[0][0]
    with pytest.raises(ValueError, match="unknown event type"):
        add_event(redis_client.pipeline(), "pet.exploded", {})


def test_stream_ids_sort_as_numbers_not_text():
    from contracts.events import stream_id_key

    assert stream_id_key("10-0") > stream_id_key("9-5") and stream_id_key("9-10") > stream_id_key("9-9")
    assert stream_id_key("junk") == (0, 0) == stream_id_key("1-x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+sentinel://h1:26379,h2:26380/mymaster/2", ([("h1", 26379), ("h2", 26380)], "mymaster", 2, None)),
        ("redis+sentinel://:s3cret@h1:26379/mymaster", ([("h1", 26379)], "mymaster", 0, "s3cret")),
        ("redis://127.0.0.1:6379/0", None),
    ],
)
def test_sentinel_urls_are_read_into_their_parts(url, expected):
    from infra.redis_url import parse_sentinel_url

    address = parse_sentinel_url(url)
    parts = None if address is None else (address.sentinels, address.master, address.db, address.password)
    assert parts == expected


@pytest.mark.parametrize(
    "url", ["redis+sentinel://h1/mymaster", "redis+sentinel://h1:26379/", "redis+sentinel://h1:1/m/zero"]
)
def test_a_malformed_sentinel_url_is_a_configuration_error_naming_redis_url(url):
    from infra.environment import ConfigError
    from infra.redis_url import redis_url_from_env

    with pytest.raises(ConfigError, match="REDIS_URL"):
        redis_url_from_env({"REDIS_URL": url})


@pytest.mark.parametrize(
    ("uri", "write_concern"),
    [
        ("mongodb://127.0.0.1:27017/pets_database?retryWrites=false", "majority"),
        ("mongodb://m1,m2,m3/pets_database?replicaSet=rs0", "majority"),
        ("mongodb://m1,m2,m3/pets_database?replicaSet=rs0&w=1", None),  # the URI's own choice stays
        ("mongodb+srv://cluster.example.com/pets_database", "majority"),  # no DNS lookup to decide
    ],
)
def test_writes_wait_for_a_majority_unless_the_uri_says_otherwise(uri, write_concern):
    from infra.mongo import client_options

    assert client_options(uri, 15000).get("w") == write_concern
