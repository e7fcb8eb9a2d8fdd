"""Django's WSGI application under uvicorn: the request read on the event loop, Django run in a
small thread pool, the response written on the event loop, with one hand-over each way.

Why not a2wsgi (or Django's own ASGI handler): both cross between the event loop and a thread for
every piece of a request, a2wsgi to read the body, to send the status line, to send each chunk
and to send the end (five round trips, each a loop wake-up and a thread wake-up), Django's for
the request_started and request_finished signals besides the view. `make bench` put those
crossings at about 0.3 ms of CPU per request. Here a request crosses once: the body is read whole
on the loop first (it is at most DATA_UPLOAD_MAX_MEMORY_SIZE, anything longer is answered 413
before Django sees it), Django runs start to finish in a thread, and an ordinary response comes
back whole. Only a streaming response (a static file) is read from its thread a chunk at a time.

The crossing itself is `LoopThreads`, not `loop.run_in_executor`: an executor's call makes a
concurrent future (a lock and a condition), then an asyncio future chained to it by two callbacks;
here a call is one queue put and its answer one `call_soon_threadsafe`, a third of the CPU.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import io
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pets_project.asgi_support import Receive, Scope, Send, send_json_error

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
T = TypeVar("T")

_END = object()


class LoopThreads:
    """`count` threads running blocking calls for an event loop: `await threads.run(f, *args)` is
    f(*args) run in one of them, in a copy of the caller's context, its result or exception
    delivered back on the caller's loop.

    The threads start with the first call (in the process that serves, after gunicorn's fork).
    At exit they finish the calls they hold first, as an executor's do: a create cut short between
    its insert and its push would wait for the outbox relay.
    """

    def __init__(self, count: int, name: str) -> None:
        self._count, self._name = count, name
        self._calls: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    def run(self, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        if not self._threads:
            self._start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, answer, contextvars.copy_context(), function, args))
        return answer

    def close(self) -> None:
        """Let each thread finish what it holds, then stop it."""
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _start(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            threads = [
                threading.Thread(target=self._serve, name=f"{self._name}-{number}", daemon=True)
                for number in range(self._count)
            ]
            for thread in threads:
                thread.start()
            self._threads = threads
            atexit.register(self.close)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, answer, context, function, args = call
            del call
            try:
                result, error = context.run(function, *args), None
            except BaseException as exc:  # noqa: BLE001 (handed to the awaiting coroutine, which raises it)
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, answer, result, error)
            except RuntimeError:  # the loop closed meanwhile: nobody is waiting any more
                pass
            del loop, answer, context, function, args, result, error


def _settle(answer: asyncio.Future, result: object, error: BaseException | None) -> None:
    if answer.done():  # cancelled: the request's task was cancelled (a stop, a client gone)
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before its body was complete: nothing to process, nobody to answer."""


class ThreadedWsgi:
    """An ASGI application serving a WSGI one (Django's) on `threads` threads."""

    def __init__(self, app: WsgiApp, *, threads: int, body_limit: int) -> None:
        self.app = app
        self.body_limit = body_limit
        self.threads = LoopThreads(threads, "django")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets; Django has no lifespan (pets_project/gunicorn_worker.py)
            return
        try:
            body = await self._read_body(scope, receive)
        except BodyTooLarge:
            limit = f"Request body too large (limit {self.body_limit // 1024} KB)"
            return await send_json_error(send, 413, limit, close=True)
        except ClientGone:
            return
        status, headers, chunks = await self.threads.run(self._respond, wsgi_environ(scope, body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if isinstance(chunks, list):
            await send({"type": "http.response.body", "body": b"".join(chunks)})
            return
        try:
            while (chunk := await self.threads.run(next, chunks, _END)) is not _END:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await self.threads.run(close)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused past the limit: by its Content-Length before anything is read,
        and a chunked one (which declares no length) as soon as it grows past the limit."""
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.body_limit:
            raise BodyTooLarge
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: half a body is no request
                raise ClientGone
            part = message.get("body", b"")
            size += len(part)
            if size > self.body_limit:
                raise BodyTooLarge
            parts.append(part)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    def _respond(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], list[bytes] | Iterator[bytes]]:
        """Runs in a thread: Django's whole request, and its response whole unless it streams."""
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable:
            started.append((status, headers))
            return _no_write

        response = self.app(environ, start_response)
        if getattr(response, "streaming", True):
            chunks: list[bytes] | Iterator[bytes] = _ClosingChunks(response)
        else:
            try:
                chunks = list(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        status, headers = started[-1]
        encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return int(status.split(" ", 1)[0]), encoded, chunks


def _no_write(data: bytes) -> None:
    raise NotImplementedError("write() of WSGI's start_response: Django never calls it")


class _ClosingChunks(Iterator[bytes]):
    """A streaming response's chunks, with its close() kept for after the last one."""

    def __init__(self, response: Iterable[bytes]) -> None:
        self._chunks = iter(response)
        self.close = getattr(response, "close", lambda: None)

    def __next__(self) -> bytes:
        return next(self._chunks)


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope whose body was read whole.

    A body sent chunked declares no length; it gets one here, since it was read whole.
    """
    server_name, server_port = scope.get("server") or ("localhost", 80)
    script_name, path = scope.get("root_path", ""), scope["path"]
    if script_name and path.startswith(script_name):  # ASGI's path includes the root path, WSGI's does not
        path = path[len(script_name) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name.encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = scope["client"][0], str(scope["client"][1])
    for raw_name, raw_value in scope.get("headers") or []:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name not in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            name = f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[name] = f"{environ[name]},{value}" if name in environ else value
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ
