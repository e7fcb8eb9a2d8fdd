"""ASGI entry point (gunicorn.conf.py serves `pets_project.asgi:application` with uvicorn workers).

Django itself runs as a WSGI application in a small thread pool (a2wsgi): measured with
`make bench`, that costs less CPU per request than Django's own ASGI handler, which starts a
thread per request. Uvicorn keeps slow clients off those threads (pets_project/server.py), and
the live event stream (`/api/events/`, pets/live.py) runs on the event loop, off them too.
"""

from __future__ import annotations

import json
import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

from contracts.environment import Environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pets_project.settings")

API_THREADS = Environment().integer("API_THREADS", 2, minimum=1)
# Django's WSGIHandler is annotated as returning its HttpResponse, which is the iterable of bytes WSGI wants.
django_application = WSGIMiddleware(get_wsgi_application(), workers=API_THREADS)  # type: ignore[arg-type]

from django.conf import settings  # noqa: E402 (after the settings are configured)


class BodyLimit:
    """Refuse request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE before Django reads them.

    Django checks the size only once it reads the body, and a chunked body declares none: a
    client could stream gigabytes into a worker first. This reads at most the limit, answers 413
    past it, and hands what it read on to Django otherwise.
    """

    def __init__(self, app, limit: int) -> None:  # noqa: ANN001 (an ASGI application)
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 (the ASGI signature)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._too_large(send)
            if not message.get("more_body", False):
                break
        buffered = iter(messages)

        async def replay() -> dict:
            return next(buffered, None) or await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:  # noqa: ANN001
        body = json.dumps({"error": f"Request body too large (limit {self.limit // 1024} KB)"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers + [(b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


django_with_body_limit = BodyLimit(django_application, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

from pets import live  # noqa: E402 (reads the settings)


async def application(scope, receive, send) -> None:  # noqa: ANN001 (the ASGI signature)
    """The live event stream on the event loop itself (pets/live.py); everything else to Django."""
    if scope["type"] == "http" and scope["path"] == live.PATH:
        return await live.event_stream(scope, receive, send)
    return await django_with_body_limit(scope, receive, send)
