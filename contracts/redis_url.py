"""How both sides find Redis and how hard they try: one rule, so the API and the workers agree."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from contracts.environment import Environment

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_from_env(env: Mapping[str, str]) -> str:
    """Return the Redis URL: `REDIS_URL` wins, else the original Pet App's `REDIS_HOST`/`REDIS_PORT`."""
    reader = Environment(env)
    url = reader.text("REDIS_URL")
    if url:
        return url
    host = reader.text("REDIS_HOST")
    if host:
        port = reader.integer("REDIS_PORT", 6379, minimum=1)
        db = reader.integer("REDIS_DB", 0, minimum=0)
        return f"redis://{host}:{port}/{db}"
    return DEFAULT_REDIS_URL


def quick_retry() -> Retry:
    """One quick retry instead of redis-py's default ten, with backoff of up to a second each
    (seconds per call while Redis is down). A dropped connection is still re-made at once; a
    Redis that is down is reported in milliseconds, and the callers' own fallbacks take over:
    the API's outbox and 503s, the worker's reconnection backoff."""
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), 1)


def redacted(url: str) -> str:
    """The URL with any password replaced by `***`, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
