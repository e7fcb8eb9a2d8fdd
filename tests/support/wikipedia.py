"""The local stand-in for Wikipedia's REST summaries (pytest-httpserver)."""

from __future__ import annotations

import json
import re
import time

from werkzeug import Response

WIKIPEDIA_PREFIX = "/api/rest_v1"


def summary_json(title: str) -> dict:
    """A Wikipedia REST summary, trimmed to the fields the worker reads."""
    slug = title.replace(" ", "_")
    return {
        "type": "standard",
        "title": title,
        "extract": f"The {title.lower()} is a test animal described by the local stand-in for Wikipedia.",
        "content_urls": {"desktop": {"page": f"https://en.wikipedia.org/wiki/{slug}"}},
        "thumbnail": {"source": f"https://upload.wikimedia.org/{slug}.jpg", "width": 320, "height": 240},
    }


def summary_response(request) -> Response:
    """The summary of the title in the request's path."""
    title = request.path.rsplit("/", 1)[-1].replace("_", " ")
    return Response(json.dumps(summary_json(title)), content_type="application/json")


def answer_slowly(wikipedia, seconds: float) -> None:
    """Answer every summary request after `seconds`: tasks take a while, as with the real Wikipedia."""

    def answer(request) -> Response:
        time.sleep(seconds)
        return summary_response(request)

    wikipedia.expect_request(re.compile(rf"{WIKIPEDIA_PREFIX}/page/summary/.*")).respond_with_handler(answer)


def serve_summary(wikipedia, title: str, **response_kwargs) -> None:
    path = f"{WIKIPEDIA_PREFIX}/page/summary/{title.replace(' ', '_')}"
    if response_kwargs:
        wikipedia.expect_request(path).respond_with_response(Response(**response_kwargs))
    else:
        wikipedia.expect_request(path).respond_with_json(summary_json(title))
