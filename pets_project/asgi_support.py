"""What the API's two hand-written ASGI applications share: the Django bridge
(pets_project/threaded_wsgi.py) and the live event stream (pets/live.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def send_json_error(send: Send, status: int, message: str, *, close: bool = False) -> None:
    """An error as every API error looks (`{"error": ...}`), answered before Django or DRF see the
    request; `close` ends the connection too (a body left unread would be taken for the next request)."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
