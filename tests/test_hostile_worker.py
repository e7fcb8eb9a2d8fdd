"""Hostile input to the workers: poison tasks on the queue and a hostile or broken Wikipedia.

Real consumer processes and real Redis; the hostile upstreams are real HTTP servers on 127.0.0.1
(pytest-httpserver, or a raw socket server where the bytes on the wire must be controlled).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
from werkzeug import Response

from contracts.dead_letters import DeadLetter
from contracts.links import article_url, image_url
from contracts.tasks import DEAD_LETTER_KEY, TASKS_KEY, WIKIPEDIA_KEY_PREFIX, processing_key
from tests.support.processes import ROOT, base_env, wait_until
from tests.support.tasks import push, result_files, wait_for_files
from tests.support.wikipedia import WIKIPEDIA_PREFIX, serve_summary, summary_json

POISON_TASKS = {
    "nesting 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "a 5,001-digit age": b'{"pet_id":"x","name":"n","species":"cat","age":1' + b"0" * 5000 + b"}",
    "a lone surrogate in the name": b'{"pet_id":"x","name":"\\ud800","species":"cat","age":1}',
    "a lone surrogate in the task id": b'{"pet_id":"x","name":"n","species":"cat","age":1,"task_id":"\\udfff"}',
    "invalid UTF-8": b'{"pet_id":"x","name":"\xff\xfe","species":"cat","age":1}',
    "a float age past 64 bits": b'{"pet_id":"x","name":"n","species":"cat","age":123456789012345678901234567890}',
}


def dead_letters(redis_client) -> list[DeadLetter]:
    return [DeadLetter.from_json(raw) for raw in redis_client.lrange(DEAD_LETTER_KEY, 0, -1)]


def test_poison_tasks_are_dead_lettered_and_the_consumer_goes_on(start_consumer, redis_client, wikipedia, tmp_path):
    serve_summary(wikipedia, "Cat")
    consumer = start_consumer("1")
    for payload in POISON_TASKS.values():
        redis_client.rpush(TASKS_KEY, payload)
    push(redis_client)  # a good task behind the poison ones
    wait_for_files(tmp_path / "processed_data", 1)
    entries = wait_until(lambda: len(dead_letters(redis_client)) == len(POISON_TASKS) and dead_letters(redis_client))
    for entry, name in zip(entries, POISON_TASKS, strict=True):
        assert entry.error and entry.error.startswith("invalid task"), (name, entry.error)
        assert entry.consumer == "Consumer-1"
    deep = entries[0]
    assert deep.payload_truncated and len(deep.payload) == 64 * 1024
    assert consumer.alive()
    # The good task leaves the processing list when its batch completes, a moment after its file.
    wait_until(lambda: redis_client.llen(processing_key("Consumer-1")) == 0, what="an empty processing list")
    # Every entry can be shown by the operator tools (they are ASCII JSON whatever the payload held).
    for raw in redis_client.lrange(DEAD_LETTER_KEY, 0, -1):
        raw.decode("ascii")


@pytest.mark.parametrize("failing_step", ["parse_task", "start", "dead_letter_of_invalid"])
def test_any_exception_while_handling_a_task_dead_letters_it(redis_client, tmp_path, monkeypatch, failing_step):
    """In process: whatever step blows up (parsing, the done check, even the dead letter of an
    invalid task), the payload ends in the dead-letter list and `handle_batch` returns normally."""
    from worker import runner
    from worker.broker import TaskQueue
    from worker.config import WorkerSettings

    settings = WorkerSettings.from_env({"PROCESSED_DIR": str(tmp_path), "CONSUMER_ID": "7"})
    queue = TaskQueue(redis_client, settings.consumer_name)
    consumer = runner.Consumer(settings, queue, wikipedia=None, results=None, sink=None)  # type: ignore[arg-type]

    def boom(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    payload = b'{"pet_id":"p","name":"n","species":"Cat","age":1}'
    if failing_step == "parse_task":
        monkeypatch.setattr(runner, "parse_task", boom)
    elif failing_step == "start":
        monkeypatch.setattr(queue, "start", boom)
    else:
        payload = b"not json"
        real_dead_letter = queue.dead_letter
        calls = []

        def dead_letter_once_broken(raw, entry):
            calls.append(entry)
            if len(calls) == 1:
                raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
            return real_dead_letter(raw, entry)

        monkeypatch.setattr(queue, "dead_letter", dead_letter_once_broken)
    redis_client.rpush(TASKS_KEY, payload)
    [raw] = queue.take(1)
    consumer.handle_batch([raw])
    [entry] = dead_letters(redis_client)
    assert entry.error.startswith("poison task: ")
    assert entry.payload == payload.decode()
    assert redis_client.llen(processing_key(settings.consumer_name)) == 0


def test_dead_letters_can_be_named_by_task_id(start_consumer, redis_client, wikipedia, tmp_path):
    """The id the log prints ("Task <task_id> ... sent to the dead-letter list") is the one tools take."""
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("down", status=500)
    consumer = start_consumer("1", TASK_MAX_ATTEMPTS="1")
    task = push(redis_client)
    wait_until(lambda: dead_letters(redis_client))
    assert f"Task {task['task_id']} failed 1 times, sent to the dead-letter list" in consumer.output()
    env = base_env(REDIS_URL=f"redis://127.0.0.1:{redis_client.connection_pool.connection_kwargs['port']}/0")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "consumer.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    shown = cli("dead", "show", task["task_id"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["task_id"] == task["task_id"]
    assert f"task={task['task_id']}" in cli("dead", "list").stdout
    assert cli("dead", "requeue", task["task_id"]).stdout.strip() == "requeued 1 task(s)"


# -- a hostile or broken Wikipedia ---------------------------------------------------------------


def test_redirects_off_the_configured_host_are_not_followed(
    start_consumer, redis_client, wikipedia, tmp_path, httpserver
):
    internal = []  # what an attacker would like the worker to fetch (e.g. cloud metadata)
    wikipedia.expect_request("/latest/meta-data/").respond_with_handler(
        lambda request: internal.append(request.path) or Response('{"extract": "secret"}')
    )
    elsewhere = wikipedia.url_for("/latest/meta-data/").replace("127.0.0.1", "localhost")
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_response(
        Response("", status=302, headers={"Location": elsewhere})
    )
    start_consumer("1", TASK_MAX_ATTEMPTS="1")
    push(redis_client)
    [entry] = wait_until(lambda: dead_letters(redis_client))
    assert "refused" in entry.error and "outside" in entry.error
    assert internal == []
    assert result_files(tmp_path / "processed_data") == []


def test_redirects_within_the_api_are_followed(start_consumer, redis_client, wikipedia, tmp_path):
    """Wikipedia redirects a title to its canonical one (e.g. "Puppy" to "Dog") on the same API."""
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Puppy").respond_with_response(
        Response("", status=302, headers={"Location": "Dog"})
    )
    serve_summary(wikipedia, "Dog")
    start_consumer("1")
    push(redis_client, species="Puppy")
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    assert json.loads(path.read_text())["enriched_info"]["wikipedia"]["status"] == "found"


class TricklingServer:
    """A raw HTTP server that sends its answer one byte at a time (headers or body)."""

    def __init__(self, *, trickle_headers: bool, interval: float = 0.25) -> None:
        self.trickle_headers = trickle_headers
        self.interval = interval
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by the test
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.requests += 1
        body = json.dumps(summary_json("Cat")).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        slow, fast = (head + body, b"") if self.trickle_headers else (body, head)
        try:
            conn.recv(65536)
            conn.sendall(fast)
            for byte in slow:
                if self.stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self.interval)
        except OSError:
            pass  # the worker hung up: what we want
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body", "headers"])
def test_a_trickled_answer_is_cut_at_the_deadline(start_consumer, redis_client, wikipedia, tmp_path, trickle_headers):
    server = TricklingServer(trickle_headers=trickle_headers)
    try:
        consumer = start_consumer(
            "1",
            WIKIPEDIA_API_URL=f"http://127.0.0.1:{server.port}{WIKIPEDIA_PREFIX}",
            WIKIPEDIA_TIMEOUT_SECONDS="1",
            TASK_MAX_ATTEMPTS="1",
        )
        started = time.monotonic()
        push(redis_client)
        [entry] = wait_until(lambda: dead_letters(redis_client), timeout=20)
        took = time.monotonic() - started
    finally:
        server.close()
    print(f"\ntrickled {'headers' if trickle_headers else 'body'}: task ended after {took:.2f}s (deadline 1 s)")
    assert "no complete answer within 1s" in entry.error
    assert took < 3.5  # the whole answer would have taken 100+ s at this pace
    assert consumer.alive()


def test_an_oversized_answer_is_refused(start_consumer, redis_client, wikipedia, tmp_path):
    huge = dict(summary_json("Cat"), extract="x" * 1_000_000)
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_json(huge)
    start_consumer("1")
    push(redis_client)
    [entry] = wait_until(lambda: dead_letters(redis_client))
    assert "bytes" in entry.error and "limit" in entry.error
    assert result_files(tmp_path / "processed_data") == []


def test_a_day_long_retry_after_is_capped(start_consumer, redis_client, wikipedia, tmp_path):
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "86400"})
    )
    consumer = start_consumer("1", TASK_RETRY_MAX_SECONDS="5")
    push(redis_client)
    wait_until(lambda: "retrying in" in consumer.output())
    pause_ms = redis_client.pttl(f"{WIKIPEDIA_KEY_PREFIX}paused")
    [(_, due)] = redis_client.zrange("pets:delayed", 0, 0, withscores=True)
    print(f"\nRetry-After 86400: consumers paused for {pause_ms} ms, task due in {due - time.time():.1f}s")
    assert 0 < pause_ms <= 5000
    assert due - time.time() <= 5.5
    assert "Wikipedia asked to wait 86400s (Retry-After); waiting 5s" in consumer.output()


@pytest.mark.parametrize("species", [".", "..", " . . "])
def test_dot_species_never_change_the_request_path(start_consumer, redis_client, wikipedia, tmp_path, species):
    start_consumer("1")
    push(redis_client, species=species)
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    assert json.loads(path.read_text())["enriched_info"]["wikipedia"]["status"] == "not_found"
    assert wikipedia.log == []  # no request at all: such a title has no article


def test_links_off_wikipedia_never_reach_a_result(start_consumer, redis_client, wikipedia, tmp_path):
    hostile = dict(
        summary_json("Cat"),
        content_urls={"desktop": {"page": "https://evil.example/wiki/Cat"}},
        thumbnail={"source": "http://127.0.0.1/latest/meta-data/"},
    )
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_json(hostile)
    start_consumer("1")
    push(redis_client)
    [path] = wait_for_files(tmp_path / "processed_data", 1)
    found = json.loads(path.read_text())["enriched_info"]["wikipedia"]
    assert found["wikipedia_url"] is None and found["thumbnail"] is None
    assert found["wikipedia_extract"]


@pytest.mark.parametrize(
    ("url", "article", "image"),
    [
        ("https://en.wikipedia.org/wiki/Cat", True, False),
        ("https://upload.wikimedia.org/a.jpg", False, True),
        ("http://en.wikipedia.org/wiki/Cat", False, False),
        ("https://en.wikipedia.org.evil.example/x", False, False),
        ("https://evil.example/?.wikipedia.org", False, False),
        ("https://user@en.wikipedia.org/x", False, False),
        ("https://en.wikipedia.org:8443/x", False, False),
        ("javascript:alert(1)//.wikipedia.org", False, False),
        ("https://en.wikipedia.org/wiki/Cat x", False, False),
        (None, False, False),
        (42, False, False),
    ],
)
def test_link_rules(url, article, image):
    assert (article_url(url) is not None) is article
    assert (image_url(url) is not None) is image
