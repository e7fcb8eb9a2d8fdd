"""How both sides talk to MongoDB: the same durability on a replica set, whatever the URI says.

Writes wait for a majority of the replica set (`w=majority`, MongoDB's own default since 5.0,
made explicit so a server configured otherwise does not lose acknowledged pets in a failover),
unless the URI asks for another write concern. Retryable writes stay pymongo's default (on); the
URI of the embedded development database turns them off. `MONGODB_TIMEOUT_MS` bounds how long an
operation waits for a server to select: a replica set election takes up to about 12 s, so give it
15000 there (deploy/k8s/ does).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit


def client_options(uri: str, timeout_ms: int) -> dict[str, Any]:
    """Keyword arguments for a MongoClient of `uri` (they win over the URI's, so `w` is left to it)."""
    options: dict[str, Any] = {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms}
    given = {name.lower() for name, _ in parse_qsl(urlsplit(uri).query)}  # (no DNS lookup, unlike parse_uri)
    if "w" not in given:
        options["w"] = "majority"
    return options
