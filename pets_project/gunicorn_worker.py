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

import logging

from uvicorn_worker import UvicornWorker

# An access log line per request, and none of the API's log formats (settings.LOGGING, gunicorn's)
# shows a thread's name, a multiprocessing name or the calling function: skip collecting them
# (the logging HOWTO's "Optimization"). Each line cost a finished create about 5 % of its CPU,
# a fifth of that walking the stack for a caller nobody prints. The process id stays (gunicorn's
# error log shows it).
logging.logThreads = False
logging.logMultiprocessing = False
logging._srcfile = None

GRACEFUL_SECONDS = 3  # within gunicorn's graceful_timeout (gunicorn.conf.py)


class ApiWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "lifespan": "off", "timeout_graceful_shutdown": GRACEFUL_SECONDS}
