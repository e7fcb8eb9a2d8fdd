"""Worker settings, read once from the environment (`.env.example` lists every variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.redis_url import redis_url_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/pets_database"  # the API's default too
DEFAULT_WIKIPEDIA_API_URL = "https://en.wikipedia.org/api/rest_v1"
DEFAULT_USER_AGENT = (
    "PetAppEnrichment/1.0 (pet registry worker; set WIKIPEDIA_USER_AGENT to add your contact) python-requests"
)


def consumer_name(consumer_id: str) -> str:
    """`1` -> `Consumer-1`, as the original Pet App's logs and files name the workers."""
    return f"Consumer-{consumer_id.strip() or '1'}"


@dataclass(frozen=True)
class WorkerSettings:
    consumer_name: str
    redis_url: str
    mongodb_uri: str
    mongodb_timeout_ms: int
    processed_dir: Path
    wikipedia_api_url: str
    wikipedia_user_agent: str
    wikipedia_timeout_seconds: float
    wikipedia_cache_seconds: int
    wikipedia_requests_per_second: int
    poll_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    heartbeat_ttl_seconds: float
    reap_interval_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerSettings:
        return cls(
            consumer_name=consumer_name(env.get("CONSUMER_ID", "1")),
            redis_url=redis_url_from_env(env),
            mongodb_uri=env.get("MONGODB_URI") or DEFAULT_MONGODB_URI,
            mongodb_timeout_ms=int(env.get("MONGODB_TIMEOUT_MS") or 3000),
            processed_dir=Path(env.get("PROCESSED_DIR") or PROJECT_ROOT / "processed_data"),
            wikipedia_api_url=(env.get("WIKIPEDIA_API_URL") or DEFAULT_WIKIPEDIA_API_URL).rstrip("/"),
            wikipedia_user_agent=env.get("WIKIPEDIA_USER_AGENT") or DEFAULT_USER_AGENT,
            wikipedia_timeout_seconds=float(env.get("WIKIPEDIA_TIMEOUT_SECONDS", "5")),
            wikipedia_cache_seconds=int(env.get("WIKIPEDIA_CACHE_SECONDS", str(24 * 3600))),
            wikipedia_requests_per_second=int(env.get("WIKIPEDIA_MAX_REQUESTS_PER_SECOND", "20")),
            poll_seconds=float(env.get("CONSUMER_POLL_SECONDS", "1")),
            max_attempts=int(env.get("TASK_MAX_ATTEMPTS", "5")),
            retry_base_seconds=float(env.get("TASK_RETRY_BASE_SECONDS", "2")),
            retry_max_seconds=float(env.get("TASK_RETRY_MAX_SECONDS", "300")),
            heartbeat_ttl_seconds=float(env.get("CONSUMER_HEARTBEAT_TTL_SECONDS", "15")),
            reap_interval_seconds=float(env.get("CONSUMER_REAP_INTERVAL_SECONDS", "5")),
        )
