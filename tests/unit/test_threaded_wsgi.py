"""pets_project/threaded_wsgi.py: the bridge between uvicorn and Django, driven as uvicorn drives
it (ASGI messages), with a small WSGI application standing in for Django."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from pets_project.threaded_wsgi import LoopThreads, ThreadedWsgi


class Recorder:
    """A WSGI application that remembers what it was given and answers as told."""

    def __init__(self, chunks: list[bytes] | None = None, streaming: bool = False) -> None:
        self.environs: list[dict] = []
        self.chunks = chunks or [b"ok"]
        self.streaming = streaming
        self.closed = False

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204 (WSGI)
        environ["body"] = environ["wsgi.input"].read()
        self.environs.append(environ)
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", "yes")])
        recorder = self

        class Response:
            streaming = recorder.streaming

            def __iter__(self):  # noqa: ANN204
                return iter(recorder.chunks)

            def close(self) -> None:
                recorder.closed = True

        return Response()


def serve(app: Recorder, messages: list[dict], *, path: str = "/api/pets/", root_path: str = "", limit: int = 100):
    scope = {
        "type": "http", "method": "POST", "path": path, "root_path": root_path, "query_string": b"a=1",
        "http_version": "1.1", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"example"), (b"content-type", b"application/json"), (b"x-many", b"1"),
                    (b"x-many", b"2")],
    }  # fmt: skip
    incoming = iter(messages)
    sent: list[dict] = []

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(ThreadedWsgi(app, threads=1, body_limit=limit)(scope, receive, send))
    return sent


def test_a_chunked_body_reaches_the_application_whole_with_its_length():
    app = Recorder()
    parts = [{"type": "http.request", "body": b'{"a":', "more_body": True}, {"type": "http.request", "body": b"1}"}]
    sent = serve(app, parts)
    environ = app.environs[0]
    assert environ["body"] == b'{"a":1}' and environ["CONTENT_LENGTH"] == "7"
    assert environ["CONTENT_TYPE"] == "application/json" and environ["HTTP_X_MANY"] == "1,2"
    assert (environ["PATH_INFO"], environ["QUERY_STRING"], environ["REMOTE_ADDR"]) == ("/api/pets/", "a=1", "127.0.0.1")
    assert sent[0] == {"type": "http.response.start", "status": 201,
                       "headers": [(b"content-type", b"text/plain"), (b"x-seen", b"yes")]}  # fmt: skip
    assert sent[1:] == [{"type": "http.response.body", "body": b"ok"}]
    assert app.closed


def test_a_client_gone_before_its_body_ended_is_not_processed():
    app = Recorder()
    sent = serve(app, [{"type": "http.request", "body": b'{"name":', "more_body": True}, {"type": "http.disconnect"}])
    assert app.environs == [] and sent == []


def test_a_body_past_the_limit_is_a_413_before_the_application_runs():
    app = Recorder()
    parts = [
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"x" * 60},
    ]
    sent = serve(app, parts)
    assert app.environs == []
    assert sent[0]["status"] == 413 and b"Request body too large" in sent[1]["body"]


def test_a_streaming_response_is_sent_a_chunk_at_a_time_then_closed():
    app = Recorder(chunks=[b"one", b"two"], streaming=True)
    sent = serve(app, [{"type": "http.request", "body": b""}])
    assert [message.get("body") for message in sent[1:]] == [b"one", b"two", b""]
    assert app.closed


def test_the_root_path_is_the_script_name():
    app = Recorder()
    serve(app, [{"type": "http.request", "body": b""}], path="/pets/api/pets/", root_path="/pets")
    assert (app.environs[0]["SCRIPT_NAME"], app.environs[0]["PATH_INFO"]) == ("/pets", "/api/pets/")


def test_loop_threads_answer_on_the_caller_s_loop_with_its_context_and_its_exceptions():
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    threads = LoopThreads(2, "test")

    def seen(suffix: str) -> tuple[str, str]:
        return request_id.get() + suffix, threading.current_thread().name

    def fails() -> None:
        raise KeyError("gone")

    async def main() -> tuple[list, BaseException]:
        request_id.set("r1")
        answers = await asyncio.gather(*(threads.run(seen, f"-{n}") for n in range(6)))
        with pytest.raises(KeyError) as raised:
            await threads.run(fails)
        return answers, raised.value

    answers, error = asyncio.run(main())
    assert [value for value, _ in answers] == [f"r1-{n}" for n in range(6)]
    assert {name for _, name in answers} <= {"test-0", "test-1"}  # never more threads than asked for
    assert error.args == ("gone",)
    threads.close()


def test_loop_threads_finish_the_call_they_hold_before_they_stop():
    threads = LoopThreads(1, "test")
    started, finished = threading.Event(), []

    def slow() -> None:
        started.set()
        time.sleep(0.2)
        finished.append(True)

    async def main() -> None:
        threads.run(slow)  # nobody awaits it: as when a stop cancels the request's task
        await asyncio.sleep(0)

    asyncio.run(main())  # the loop is closed before the call ends: its answer goes nowhere, quietly
    assert started.wait(5)
    threads.close()
    assert finished == [True]
