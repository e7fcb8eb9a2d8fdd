"""The API's JSON parser: orjson, which refuses what Python's json module lets through.

DRF's parser turns only ValueError into a 400; a body nested 5,000 levels deep raises
RecursionError there (a 500), and lone surrogates ("\\ud800") parse into strings that break
whatever encodes them later (Redis keys, log lines, MongoDB). orjson rejects all of these, and
numbers past 64 bits, as invalid JSON, so they end as a 400 before any view runs.
"""

from __future__ import annotations

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):  # noqa: ANN001, ANN201 (DRF's signature)
        try:
            return orjson.loads(stream.read() if stream is not None else b"")
        except orjson.JSONDecodeError as exc:
            raise ParseError(str(exc)) from None
