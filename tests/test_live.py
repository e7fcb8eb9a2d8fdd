"""Live updates: the event stream (`GET /api/events/`) against a real API, Redis and consumers."""

from __future__ import annotations

import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from contracts.events import EVENTS_KEY, PUBLIC_PET_FIELDS, PUBLIC_RESULT_FIELDS
from tests.support.api import EventStream
from tests.support.processes import wait_until
from tests.support.wikipedia import WIKIPEDIA_PREFIX, serve_summary


@pytest.fixture
def consumer(api_server, start_consumer, wikipedia):
    serve_summary(wikipedia, "Cat")
    return start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))


def test_a_pet_is_followed_from_created_to_enriched_and_a_reconnect_replays_what_was_missed(api_server, api, consumer):
    with EventStream(api_server.base_url) as stream:
        pet = api.create_pet(name="Luna", species="Cat", owner="Ana")
        created = stream.next_event()
        done = stream.next_event()

    assert created.type == "pet.created" and created.data["pet"]["id"] == pet["id"]
    assert set(created.data["pet"]) == set(PUBLIC_PET_FIELDS)  # public fields only
    assert done.type == "task.done" and done.data["pet_id"] == pet["id"]
    assert set(done.data["result"]) == set(PUBLIC_RESULT_FIELDS)
    assert done.data["result"]["extract"].startswith("The cat") and done.data["result"]["health_tips"]

    api.patch(f"/api/pets/{pet['id']}/", json={"owner": "Bea"})  # while nobody listens
    with EventStream(api_server.base_url, last_event_id=created.id) as resumed:
        assert resumed.next_event() == done  # the same event, by id: nothing lost, nothing twice
        updated = resumed.next_event()
    assert updated.type == "pet.updated" and updated.data["pet"]["owner"] == "Bea"
    assert "retry: 2000" in resumed.fields_seen


def test_retries_and_dead_letters_are_announced_without_their_error_text(api_server, api, start_consumer, wikipedia):
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("secret detail", status=503)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), TASK_MAX_ATTEMPTS="2")
    with EventStream(api_server.base_url) as stream:
        pet = api.create_pet(species="Cat")
        kinds = [stream.next_event() for _ in range(3)]
    assert [event.type for event in kinds] == ["pet.created", "task.retrying", "task.dead"]
    retrying, dead = kinds[1], kinds[2]
    assert retrying.data["pet_id"] == dead.data["pet_id"] == pet["id"]
    assert retrying.data["attempt"] == 1 and retrying.data["next_attempt_at"]
    assert dead.data["attempts"] == 2
    assert "secret" not in str(retrying.data) + str(dead.data) and "503" not in str(dead.data)


def test_a_deleted_pet_is_announced(api_server, api):
    pet = api.create_pet()
    with EventStream(api_server.base_url) as stream:
        assert api.delete(f"/api/pets/{pet['id']}/").status_code == 200
        deleted = stream.next_event()
    assert (deleted.type, deleted.data) == ("pet.deleted", {"pet_id": pet["id"]})


def test_a_reconnect_past_what_the_capped_stream_keeps_is_told_to_reset(api_server, redis_client):
    ids = [redis_client.xadd(EVENTS_KEY, {"type": "pet.deleted", "data": f'{{"pet_id": "p{n}"}}'}) for n in range(5)]
    redis_client.xtrim(EVENTS_KEY, maxlen=2, approximate=False)  # the oldest three are gone
    with EventStream(api_server.base_url, last_event_id=ids[0].decode()) as stream:
        reset = stream.next_event()
        replayed = [stream.next_event(), stream.next_event()]
    assert reset.type == "reset"
    assert [event.data["pet_id"] for event in replayed] == ["p3", "p4"]


def test_a_page_follows_events_from_the_id_it_was_rendered_with(api_server, api, anon):
    """A change made between the page's render and its stream's opening still reaches the page."""
    pet = api.create_pet(name="Luna")
    rendered = re.search(r'<body data-events-after="([0-9]+-[0-9]+)">', anon.get("/").text)
    assert rendered, "the page names the newest event it was rendered with"
    api.patch(f"/api/pets/{pet['id']}/", json={"owner": "Bea"})  # rendered, stream not open yet
    with EventStream(api_server.base_url, after=rendered.group(1)) as stream:
        updated = stream.next_event()
    assert updated.type == "pet.updated" and updated.data["pet"]["owner"] == "Bea"


def test_an_after_that_is_no_event_id_is_a_400_naming_it(anon, redis_client):
    response = anon.get("/api/events/", params={"after": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"] == "after must be an event id from this stream, like 1700000000000-0"
    assert not redis_client.exists(EVENTS_KEY)


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {"Last-Event-ID": "yesterday"}, 400),
        ("GET", {"Last-Event-ID": "12-abc"}, 400),
        ("POST", {}, 405),
        ("DELETE", {}, 405),
    ],
)
def test_bad_stream_requests_are_4xx_json(anon, redis_client, method, headers, status):
    response = anon.request(method, "/api/events/", headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json" and response.json()["error"]
    assert not redis_client.exists(EVENTS_KEY)  # changes nothing


def _open_raw_stream(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(b"GET /api/events/ HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    return sock


def test_fifty_open_streams_leave_the_api_answering(api_server, api):
    streams = [_open_raw_stream(api_server.base_url) for _ in range(50)]
    try:
        timings = []
        for _ in range(5):
            started = time.monotonic()
            assert api.get("/api/pets/", timeout=5).status_code == 200
            assert api.create_pet()["id"]
            timings.append(time.monotonic() - started)
        print(f"\nlist + create with 50 streams open: slowest {max(timings) * 1000:.0f} ms")
        assert max(timings) < 1.0
        # Each stream got the five creations, none was starved.
        received = []

        def read(sock: socket.socket) -> None:
            data = b""
            while data.count(b"event: pet.created") < 5:
                data += sock.recv(65536)
            received.append(data)

        readers = [threading.Thread(target=read, args=(sock,)) for sock in streams]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=10)
        assert len(received) == 50
    finally:
        for sock in streams:
            sock.close()
    wait_until(lambda: api.get("/api/pets/").status_code == 200, what="the API after the streams closed")
