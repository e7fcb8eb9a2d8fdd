"""The API's gunicorn worker: uvicorn serving Django's ASGI application.

An asyncio worker holds a slow client as a coroutine waiting for bytes, not as a worker or a thread,
so a few clients that send their headers a byte at a time cannot make the API unavailable (with
gunicorn's sync workers, three such clients held three workers). Django runs each request's sync
code in a thread of its own beside the event loop. Django has no ASGI lifespan: it is turned off.
"""

from __future__ import annotations

from uvicorn_worker import UvicornWorker


class ApiWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "lifespan": "off"}
