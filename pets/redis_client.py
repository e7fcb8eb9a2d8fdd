"""The API's Redis client: created on first use, never at import, with short timeouts.

Short timeouts keep the API answering quickly when Redis is down (a create is still saved,
with `task_queued` false; stats answer 503; the login guard lets logins through).
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

from infra import redis_url

_client: redis.Redis | None = None
_replica: redis.Redis | None = None
_client_lock = threading.Lock()


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = connect(settings.REDIS_URL)
    return _client


def get_replica() -> redis.Redis:
    """A replica's client under Sentinel (what a replica has survives a failover); else the
    one server's client, `get_redis()`."""
    global _replica
    if redis_url.parse_sentinel_url(settings.REDIS_URL) is None:
        return get_redis()
    if _replica is None:
        with _client_lock:
            if _replica is None:
                _replica = redis_url.connect_replica(settings.REDIS_URL, **_options())
    return _replica


def connect(url: str) -> redis.Redis:
    """A client as the API uses it: short timeouts, one quick retry (infra/redis_url.py); a
    Sentinel URL finds the master."""
    return redis_url.connect(url, **_options())


def _options() -> dict:
    return {
        "socket_connect_timeout": settings.REDIS_TIMEOUT_SECONDS,
        "socket_timeout": settings.REDIS_TIMEOUT_SECONDS,
        "health_check_interval": 30,
        "retry": redis_url.quick_retry(),
    }
