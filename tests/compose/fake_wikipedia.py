"""A stand-in for Wikipedia's REST summaries, run as a service of the compose test's stack.

Standard library only (it runs on the bare python image). Every title gets a summary whose extract
names this stand-in, so a file made through it is told from one made through the real Wikipedia.
The first request for a title starting with "Slow" waits SLOW_SECONDS before it answers: the test
kills the consumer that is waiting on it. Later requests for it answer at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PREFIX = "/api/rest_v1/page/summary/"
SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "4"))
seen: set[str] = set()
seen_lock = threading.Lock()


def summary(title: str) -> dict:
    slug = title.replace(" ", "_")
    return {
        "type": "standard",
        "title": title,
        "extract": f"The {title.lower()} as told by the compose test's stand-in for Wikipedia.",
        "content_urls": {"desktop": {"page": f"https://en.wikipedia.org/wiki/{slug}"}},
        "thumbnail": {"source": f"https://upload.wikimedia.org/{slug}.jpg", "width": 320, "height": 240},
    }


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/health":
            self.answer(200, {"ok": True})
            return
        if not self.path.startswith(PREFIX):
            self.answer(404, {"type": "not_found"})
            return
        title = unquote(self.path[len(PREFIX) :]).replace("_", " ")
        with seen_lock:
            first = title not in seen
            seen.add(title)
        if first and title.startswith("Slow"):
            time.sleep(SLOW_SECONDS)
        self.answer(200, summary(title))

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    # Inside its container: reachable by the other services on the compose network, never published.
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()  # noqa: S104
