"""`GET /api/events/`: the live event stream (contracts/events.py) as Server-Sent Events.

Served by the API's event loop directly (pets_project/asgi.py routes it before Django), so an open
stream costs a coroutine and a queue, never one of the threads that run Django's views: a page
left open all day does not take a request slot from anyone.

Each API process reads the Redis Stream once (`EventHub`, one blocking XREAD at a time) and hands
every event to each open response's queue. A browser that reconnects sends `Last-Event-ID` (the id
of the last event it got); the response first replays what came after it from the stream (XRANGE),
then goes on live, skipping what the replay already sent. When that id is older than what the
capped stream still holds, a `reset` event says events were missed: the page then reloads its rows.
A first connection may ask the same with `?after=<id>`: the page renders the newest id it has seen
with its rows, so an event that comes between the render and the connection is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import cast
from urllib.parse import parse_qs

import redis
import redis.asyncio
from django.conf import settings

from contracts.events import EVENTS_KEY, Event, StreamEntry, entry_id_text, newest_id_in, stream_id_key
from infra.redis_url import connect_async
from pets_project.asgi_support import Receive, Scope, Send, send_json_error

log = logging.getLogger(__name__)


PATH = "/api/events/"
BLOCK_MILLISECONDS = 10_000  # one XREAD waits this long for news before asking again
KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing a quiet stream
RECONNECT_MILLISECONDS = 2_000  # the browser's wait before it reconnects (SSE `retry:`)
BUFFER = 1_000  # events a response may fall behind by before it is closed (it resumes on reconnect)
REPLAY_BATCH = 500
UNAVAILABLE = "Live events are unavailable: Redis is not answering"


class EventHub:
    """The one reader of the event stream in this process, fanning events out to every stream."""

    def __init__(self, client_factory: Callable[[], redis.asyncio.Redis]) -> None:
        self._client_factory = client_factory
        self._client: redis.asyncio.Redis | None = None
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._reader: asyncio.Task[None] | None = None

    @property
    def client(self) -> redis.asyncio.Redis:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def subscribe(self, start: str) -> asyncio.Queue[Event | None]:
        """A queue that gets every event read from now on (None: it fell behind and is dropped).

        `start` is where the subscriber's replay begins: a reader started for it reads from
        there, so nothing falls between the replay and what the reader hands over. A reader
        already running is at most at the newest entry, which the replay reaches.
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=BUFFER)
        self._queues.add(queue)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read(start), name="event-hub")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._queues.discard(queue)

    @property
    def open_streams(self) -> int:
        return len(self._queues)

    async def newest_id(self) -> str:
        """The id of the newest event in the stream ("0-0" when there is none)."""
        return newest_id_in(cast("list[StreamEntry]", await self.client.xrevrange(EVENTS_KEY, count=1)))

    async def _read(self, start: str) -> None:
        """XREAD from `start` on while anyone listens; waits out a Redis outage."""
        last: bytes | str = start
        delay = 0.5
        while self._queues:
            try:
                replies = cast(
                    "list[tuple[bytes, list[StreamEntry]]] | None",
                    await self.client.xread({EVENTS_KEY: last}, count=REPLAY_BATCH, block=BLOCK_MILLISECONDS),
                )
                delay = 0.5
            except redis.RedisError as exc:
                log.warning("Live events paused, Redis unavailable: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for _stream, entries in replies or []:
                for entry_id, fields in entries:
                    last = entry_id
                    event = Event.from_entry(entry_id, fields)
                    if event is not None:
                        self._publish(event)

    def _publish(self, event: Event) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a client too slow to keep up: drop it, it resumes by id
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    async def replay(self, after: str, *, check_trimmed: bool) -> tuple[list[Event], bool]:
        """The events after `after`, oldest first, and (when asked to check) whether some may
        have been trimmed away: `after` is older than the oldest entry kept, so it went with
        the oldest, and whatever followed it soonest may have gone too. (A spurious "yes" costs
        the page one look at its rows.)"""
        missed = False
        if check_trimmed and stream_id_key(after) > (0, 0):
            oldest = cast("list[StreamEntry]", await self.client.xrange(EVENTS_KEY, count=1))
            missed = not oldest or stream_id_key(entry_id_text(oldest[0][0])) > stream_id_key(after)
        events: list[Event] = []
        start = "(" + after
        while True:
            page = await self.client.xrange(EVENTS_KEY, min=start, max="+", count=REPLAY_BATCH)
            entries = cast("list[StreamEntry]", page)
            for entry_id, fields in entries:
                event = Event.from_entry(entry_id, fields)
                if event is not None:
                    events.append(event)
            if len(entries) < REPLAY_BATCH:
                return events, missed
            start = "(" + entry_id_text(entries[-1][0])


def _connect() -> redis.asyncio.Redis:
    return connect_async(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_timeout=BLOCK_MILLISECONDS / 1000 + settings.REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


hub = EventHub(_connect)


def _start_after(scope: Scope) -> tuple[str, str] | None:
    """Where the client asks to resume, and how it asked: its Last-Event-ID header (a reconnect),
    else `?after=` (a page starting from the events it rendered: pets/page.py)."""
    for name, value in scope.get("headers") or []:
        if name == b"last-event-id":
            return value.decode("latin-1").strip(), "Last-Event-ID"
    after = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    return (after[-1].strip(), "after") if after else None


async def event_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application of `GET /api/events/`."""
    if scope["method"] not in ("GET", "HEAD"):
        return await send_json_error(send, 405, f'Method "{scope["method"]}" not allowed.')
    asked = _start_after(scope)
    after = asked[0] if asked else None
    if asked and stream_id_key(asked[0]) == (0, 0) and asked[0] not in ("0", "0-0"):
        return await send_json_error(
            send, 400, f"{asked[1]} must be an event id from this stream, like 1700000000000-0"
        )
    if hub.open_streams >= settings.LIVE_MAX_STREAMS:
        return await send_json_error(send, 503, "Too many live streams open; try again shortly")
    try:
        start = after if after is not None else await hub.newest_id()
    except redis.RedisError:
        return await send_json_error(send, 503, UNAVAILABLE)
    queue = hub.subscribe(start)  # before the replay: nothing falls between the two
    try:
        try:
            replayed, missed = await hub.replay(start, check_trimmed=after is not None)
        except redis.RedisError:
            return await send_json_error(send, 503, UNAVAILABLE)
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            return await send({"type": "http.response.body", "body": b""})
        opening = b"retry: %d\n" % RECONNECT_MILLISECONDS
        if missed:
            opening += b"event: reset\ndata: {}\n"
        await send({"type": "http.response.body", "body": opening + b"\n", "more_body": True})
        sent = stream_id_key(start)
        for event in replayed:
            await send({"type": "http.response.body", "body": event.to_sse(), "more_body": True})
            sent = stream_id_key(event.id)
        await _forward(queue, sent, receive, send)
    finally:
        hub.unsubscribe(queue)


async def _forward(queue: asyncio.Queue[Event | None], sent: tuple[int, int], receive: Receive, send: Send) -> None:
    """Send what the hub hands over until the client goes (or falls too far behind)."""
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while not gone.done():
            waiting = asyncio.ensure_future(queue.get())
            await asyncio.wait({waiting, gone}, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                waiting.cancel()
                if not gone.done():
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                continue
            event = waiting.result()
            if event is None:
                break  # fell behind: the browser reconnects and resumes from its last id
            if stream_id_key(event.id) > sent:
                await send({"type": "http.response.body", "body": event.to_sse(), "more_body": True})
                sent = stream_id_key(event.id)
        if not gone.done():
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
