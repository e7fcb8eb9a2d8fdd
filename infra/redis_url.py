"""How both sides find Redis and how hard they try: one rule, so the API and the workers agree.

`REDIS_URL` is a redis-py URL (`redis://`, `rediss://`, `unix://`), or a Sentinel one, which
redis-py has no URL form for:

    redis+sentinel://[:password@]host1:26379,host2:26379/<master name>[/<db>]

Clients made from a Sentinel URL ask the Sentinels where the master is, and ask again whenever a
connection fails, so every part follows a failover by itself (redis-py's SentinelConnectionPool).
The password is the Redis servers' (the Sentinels are asked without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from infra.environment import ConfigError, Environment
from infra.redis_scripts import load_all_on_connect

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelAddress:
    sentinels: list[tuple[str, int]]
    master: str
    db: int
    password: str | None


def parse_sentinel_url(url: str) -> SentinelAddress | None:
    """The parts of a `redis+sentinel://` URL (None for any other URL); ConfigError if malformed."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    hosts = parts.netloc.rpartition("@")[2]
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ConfigError(f"REDIS_URL: each Sentinel must be host:port, not {host!r}")
        sentinels.append((name.strip("[]"), int(port)))
    path = [segment for segment in parts.path.split("/") if segment]
    if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError("REDIS_URL must look like redis+sentinel://host1:26379,host2:26379/<master name>[/<db>]")
    password = unquote(parts.password) if parts.password else None
    return SentinelAddress(sentinels, unquote(path[0]), int(path[1]) if len(path) == 2 else 0, password)


def connect(url: str, **options: Any) -> redis.Redis:  # noqa: ANN401 (redis-py's connection options)
    """A client of the master: from the URL, or found through the Sentinels. Each of its
    connections loads the project's Redis scripts as it connects (infra/redis_scripts.py)."""
    options.setdefault("redis_connect_func", load_all_on_connect)
    address = parse_sentinel_url(url)
    if address is None:
        return redis.Redis.from_url(url, **options)
    sentinel = Sentinel(address.sentinels, sentinel_kwargs=_sentinel_options(options))
    return sentinel.master_for(address.master, db=address.db, password=address.password, **options)


def connect_replica(url: str, **options: Any) -> redis.Redis:  # noqa: ANN401
    """A client of a replica when the URL names Sentinels (reads of what is safe from a failover);
    of the one server otherwise."""
    address = parse_sentinel_url(url)
    if address is None:
        return redis.Redis.from_url(url, **options)
    sentinel = Sentinel(address.sentinels, sentinel_kwargs=_sentinel_options(options))
    return sentinel.slave_for(address.master, db=address.db, password=address.password, **options)


def connect_async(url: str, **options: Any) -> redis.asyncio.Redis:  # noqa: ANN401
    """`connect` for asyncio (the API's live event stream)."""
    address = parse_sentinel_url(url)
    if address is None:
        return redis.asyncio.Redis.from_url(url, **options)
    sentinel = AsyncSentinel(address.sentinels, sentinel_kwargs=_sentinel_options(options))
    return sentinel.master_for(address.master, db=address.db, password=address.password, **options)


def _sentinel_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The Sentinels are asked with the same timeouts as the servers."""
    return {key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options}


def redis_url_from_env(env: Mapping[str, str]) -> str:
    """Return the Redis URL: `REDIS_URL` wins, else one made of `REDIS_HOST`/`REDIS_PORT`/`REDIS_DB`."""
    reader = Environment(env)
    url = reader.text("REDIS_URL")
    if url:
        parse_sentinel_url(url)  # a malformed Sentinel URL is an error at start, not at first use
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
