"""How both sides find Redis: one rule, so the API and the workers never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_from_env(env: Mapping[str, str]) -> str:
    """Return the Redis URL: `REDIS_URL` wins, else the original Pet App's `REDIS_HOST`/`REDIS_PORT`."""
    url = env.get("REDIS_URL", "").strip()
    if url:
        return url
    host = env.get("REDIS_HOST", "").strip()
    if host:
        port = env.get("REDIS_PORT", "6379").strip() or "6379"
        db = env.get("REDIS_DB", "0").strip() or "0"
        return f"redis://{host}:{port}/{db}"
    return DEFAULT_REDIS_URL


def redacted(url: str) -> str:
    """The URL with any password replaced by `***`, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
