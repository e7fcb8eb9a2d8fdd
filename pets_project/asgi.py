"""ASGI entry point (gunicorn.conf.py serves `pets_project.asgi:application` with uvicorn workers).

Django itself runs as a WSGI application in a small thread pool (pets_project/threaded_wsgi.py),
which reads each request whole before Django sees it and refuses a body over
DATA_UPLOAD_MAX_MEMORY_SIZE with 413. Uvicorn keeps slow clients off those threads
(pets_project/gunicorn_worker.py), and the live event stream (`/api/events/`, pets/live.py) runs on the
event loop, off them too.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pets_project.settings")

wsgi_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 (after the settings are configured)

from pets import live  # noqa: E402 (reads the settings)
from pets_project.threaded_wsgi import ThreadedWsgi  # noqa: E402

django_application = ThreadedWsgi(
    wsgi_application, threads=settings.API_THREADS, body_limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE
)


async def application(scope, receive, send) -> None:  # noqa: ANN001 (the ASGI signature)
    """The live event stream on the event loop itself (pets/live.py); everything else to Django."""
    if scope["type"] == "http" and scope["path"] == live.PATH:
        return await live.event_stream(scope, receive, send)
    return await django_application(scope, receive, send)
