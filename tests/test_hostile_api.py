"""Hostile clients against the API as production serves it (gunicorn.conf.py: uvicorn workers).

Each attack that once gave a 500, got through a limit, or took the API down, reproduced over
HTTP; then a catch-all that sends hostile values in every field of every endpoint, with and
without a token, and checks that each gets a 4xx JSON error and changes nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.api import Api, create_user, manage_shell

DEEP = "[" * 10_000 + "]" * 10_000


def assert_json_4xx(response: requests.Response, *expected: int) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if expected:
        assert response.status_code in expected, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    return body


def raw_post(api: Api, path: str, body: str | bytes) -> requests.Response:
    """POST bytes as they are (requests' json= cannot even encode a lone surrogate)."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return api.post(path, data=data, headers={"Content-Type": "application/json"})


# -- the attacks that gave 500s ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/token/", "/api/token/refresh/", "/api/pets/"])
def test_deeply_nested_json_is_a_400(anon, api, path):
    for client in (anon, api):
        body = assert_json_4xx(raw_post(client, path, DEEP), 400, 401)
        if client is api or path.startswith("/api/token"):
            assert body["error"].startswith("Malformed JSON"), body


def test_lone_surrogate_username_is_a_400(anon, redis_client):
    body = assert_json_4xx(raw_post(anon, "/api/token/", '{"username": "\\ud800", "password": "x"}'), 400)
    assert "surrogate" in body["error"]


@pytest.mark.parametrize("offset", ["%C2%B2", "%E2%91%A0", "%D9%A3", "-1", "1e3", "x"])
def test_page_offsets_that_are_not_ascii_digits_are_a_400(anon, offset):
    body = assert_json_4xx(anon.get(f"/?offset={offset}"), 400)
    assert "offset" in body["fields"]


def test_refresh_for_a_deleted_user_is_a_401(anon, api_server):
    create_user(api_server, "leaver", "leaver-pass-1")
    tokens = anon.login("leaver", "leaver-pass-1")
    manage_shell(
        api_server, "from django.contrib.auth.models import User; User.objects.filter(username='leaver').delete()"
    )
    body = assert_json_4xx(anon.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}), 401)
    assert body["error"] == "No active account found for the given token."


# -- limits --------------------------------------------------------------------------------------


def test_parallel_wrong_passwords_get_at_most_the_limit_of_password_checks(anon, redis_client):
    """25 at once for one user: the attempt is reserved atomically before the password is checked."""

    def attempt(_: int) -> int:
        return Api(anon.base_url).post("/api/token/", json={"username": "admin", "password": "wrong"}).status_code

    with ThreadPoolExecutor(25) as pool:
        statuses = list(pool.map(attempt, range(25)))
    checked = statuses.count(401)
    print(f"\n25 parallel wrong passwords: {checked} password checks (401), {statuses.count(429)} refused (429)")
    assert checked <= 5  # LOGIN_MAX_FAILURES_PER_USER
    assert checked + statuses.count(429) == 25
    redis_client.flushdb()  # later tests log in from the same address


def test_offsets_past_999_are_accepted(api):
    response = api.get("/api/pets/?offset=1000")
    assert response.status_code == 200 and response.json() == []


def test_a_password_change_revokes_earlier_tokens(anon, api_server):
    create_user(api_server, "changer", "old-pass-1")
    tokens = anon.login("changer", "old-pass-1")
    assert anon.get("/api/pets/").status_code == 200
    manage_shell(
        api_server,
        "from django.contrib.auth.models import User; u = User.objects.get(username='changer'); "
        "u.set_password('new-pass-2'); u.save()",
    )
    time.sleep(1.1)  # each API process keeps a user for up to a second (pets/authentication.py)
    body = assert_json_4xx(anon.get("/api/pets/"), 401)
    assert body["error"] == "The user's password has been changed."
    body = assert_json_4xx(anon.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}), 401)
    assert body["error"] == "The user's password has been changed."
    assert Api(anon.base_url).login("changer", "new-pass-2")["access"]


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_large_bodies_are_refused_before_they_are_read(api, chunked):
    body = b'{"name": "' + b"x" * 200_000 + b'"}'
    data = iter([body[i : i + 8192] for i in range(0, len(body), 8192)]) if chunked else body
    response = api.post("/api/pets/", data=data, headers={"Content-Type": "application/json"})
    assert assert_json_4xx(response, 413)["error"] == "Request body too large (limit 64 KB)"


def test_a_chunked_body_within_the_limit_is_read_whole(api):
    """A body sent chunked declares no length; the API reads it all the same (pets_project/threaded_wsgi.py)."""
    body = b'{"name": "Chunky", "species": "Cat", "age": 2, "owner": "Ana"}'
    response = api.post("/api/pets/", data=iter([body[:20], body[20:]]), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["pet"]["name"] == "Chunky"


def test_slow_clients_cannot_hold_the_api(api_server):
    """200 sockets sending their headers a byte at a time; /health/ must keep answering."""
    sockets = [socket.create_connection(("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1]))) for _ in range(200)]
    request = b"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    stop = threading.Event()

    def trickle() -> None:
        for byte in request:
            for sock in sockets:
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    pass
            if stop.wait(0.05):
                return

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    latencies = []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = requests.get(f"{api_server.base_url}/health/", timeout=1)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.1)
    finally:
        stop.set()
        sender.join(5)
        for sock in sockets:
            sock.close()
    print(f"\n200 slow clients: {len(latencies)} health checks, slowest {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 1


# -- the catch-all -------------------------------------------------------------------------------

HOSTILE_JSON_VALUES = {
    "lone high surrogate": '"\\ud800"',
    "lone low surrogate": '"x\\udfffx"',
    "NUL": '"a\\u0000b"',
    "nesting 10,000 deep": DEEP,
    "operator object": '{"$gt": ""}',
    "infinity": "1e999",
    "past 64 bits": "123456789012345678901234567890",
    "5,001 digits": "1" + "0" * 5000,
    "NaN": "NaN",
    "null": "null",
    "100 KB string": '"' + "x" * 100_000 + '"',
}
VALID_PET = {"name": '"Luna"', "species": '"Cat"', "age": "3", "owner": '"Ana"', "vaccinated": "true"}
TOKEN_FIELDS = {"/api/token/": {"username": '"admin"', "password": '"x"'}, "/api/token/refresh/": {"refresh": '"x"'}}


def body_with(fields: dict[str, str], field: str, value: str) -> str:
    return "{" + ", ".join(f'"{name}": {value if name == field else good}' for name, good in fields.items()) + "}"


def test_hostile_values_in_every_field_are_4xx_json_and_change_nothing(anon, api, pets_collection, redis_client):
    pet = api.create_pet()
    before = list(pets_collection.find({}, {"_id": 0}))
    targets: list[tuple[Api, str, str, dict[str, str]]] = [
        (anon, "POST", path, fields) for path, fields in TOKEN_FIELDS.items()
    ]
    targets += [(anon, "POST", "/api/token/logout/", {"refresh": '"x"'})]
    targets += [(client, "POST", "/api/pets/", VALID_PET) for client in (anon, api)]
    targets += [(api, method, f"/api/pets/{pet['id']}/", VALID_PET) for method in ("PUT", "PATCH")]
    sent = 0
    for client, method, path, fields in targets:
        for field in fields:
            for name, value in HOSTILE_JSON_VALUES.items():
                data = body_with(fields, field, value).encode("utf-8", "surrogatepass")
                response = client.request(method, path, data=data, headers={"Content-Type": "application/json"})
                assert 400 <= response.status_code < 500, (method, path, field, name, response.status_code)
                assert_json_4xx(response)
                sent += 1
    for path, params in (("/api/pets/", ("species", "vaccinated", "limit", "offset")), ("/", ("offset",))):
        for param in params:
            for value in ("%ED%A0%80", "%FF", "%C2%B2", "%00", "9" * 1_000, "-1", "%5B%5D"):
                response = api.get(f"{path}?{param}={value}")
                assert response.status_code < 500, (path, param, value, response.status_code)
                if param != "species" or response.status_code != 200:
                    assert_json_4xx(response)
                sent += 1
    print(f"\n{sent} hostile requests, all answered 4xx JSON (or 200 for a species filter), none changed a pet")
    assert list(pets_collection.find({}, {"_id": 0})) == before
    redis_client.flushdb()  # the token attempts counted against this address
