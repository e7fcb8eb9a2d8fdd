"""The API's JSON renderer: orjson, several times faster than the json module for a list of pets.

Output is what DRF's JSONRenderer gives (compact, UTF-8): serializers still decide the shapes.
"""

from __future__ import annotations

import orjson
from rest_framework.renderers import BaseRenderer


class FastJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259)

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:  # noqa: ANN001 (DRF's)
        if data is None:
            return b""
        # Datetimes as DRF writes them (ISO 8601, UTC as Z); str() for DRF's lazy translations.
        return orjson.dumps(data, default=str, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
