"""The API's gunicorn worker: uvicorn serving Django's ASGI application.

An asyncio worker holds a slow client as a coroutine waiting for bytes, not as a worker or a thread,
so a few clients that send their headers a byte at a time cannot make the API unavailable (with
gunicorn's sync workers, three such clients held three workers). Django runs each request's sync
code in a thread of its own beside the event loop. Django has no ASGI lifespan: it is turned off.

Live event streams (pets/live.py) never finish by themselves: on a stop, uvicorn waits
GRACEFUL_SECONDS for requests in flight, then cancels what is left open (the browsers reconnect,
to another worker, and resume where they were).
"""

from __future__ import annotations

from uvicorn_worker import UvicornWorker

GRACEFUL_SECONDS = 3  # within gunicorn's graceful_timeout (gunicorn.conf.py)


class ApiWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "lifespan": "off", "timeout_graceful_shutdown": GRACEFUL_SECONDS}
