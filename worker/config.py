"""Worker settings, read once from the environment (`.env.example` lists every variable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.history import TASK_HISTORY_KEPT
from infra.environment import ConfigError, Environment
from infra.redis_url import redis_url_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/pets_database"  # the API's default too
DEFAULT_WIKIPEDIA_API_URL = "https://en.wikipedia.org/api/rest_v1"
DEFAULT_USER_AGENT = (
    "PetAppEnrichment/1.0 (pet registry worker; set WIKIPEDIA_USER_AGENT to add your contact) python-requests"
)


def consumer_name(consumer_id: str) -> str:
    """`1` -> `Consumer-1`: the name log lines and each file's `metadata.processed_by` carry."""
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
    batch_max: int
    batch_seconds: float
    priority_max_wait_seconds: float
    metrics_port: int
    metrics_address: str
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    heartbeat_ttl_seconds: float
    reap_interval_seconds: float
    done_marker_seconds: int  # how long a finished task's marker keeps a redelivery from redoing it
    history_kept: int  # TASK_HISTORY_KEPT: tasks whose history is kept (contracts/history.py)
    results_sink: str  # "folder" (PROCESSED_DIR) or "s3"
    results_s3_bucket: str
    results_s3_prefix: str
    results_s3_endpoint_url: str

    @classmethod
    def from_env(cls, source: Mapping[str, str] | None = None) -> WorkerSettings:
        env = Environment(source)
        return cls(
            consumer_name=consumer_name(env.text("CONSUMER_ID", "1")),
            redis_url=redis_url_from_env(env.source),
            mongodb_uri=env.text("MONGODB_URI", DEFAULT_MONGODB_URI),
            mongodb_timeout_ms=env.integer("MONGODB_TIMEOUT_MS", 3000, minimum=1),
            processed_dir=Path(env.text("PROCESSED_DIR") or PROJECT_ROOT / "processed_data"),
            wikipedia_api_url=env.text("WIKIPEDIA_API_URL", DEFAULT_WIKIPEDIA_API_URL).rstrip("/"),
            wikipedia_user_agent=env.text("WIKIPEDIA_USER_AGENT", DEFAULT_USER_AGENT),
            wikipedia_timeout_seconds=env.number("WIKIPEDIA_TIMEOUT_SECONDS", 5, minimum=0.1),
            wikipedia_cache_seconds=env.integer("WIKIPEDIA_CACHE_SECONDS", 24 * 3600, minimum=0),
            wikipedia_requests_per_second=env.integer("WIKIPEDIA_MAX_REQUESTS_PER_SECOND", 20, minimum=1),
            poll_seconds=env.number("CONSUMER_POLL_SECONDS", 1, minimum=0.05),
            batch_max=env.integer("CONSUMER_BATCH_MAX", 50, minimum=1),
            batch_seconds=env.number("CONSUMER_BATCH_SECONDS", 0.2, minimum=0),
            priority_max_wait_seconds=env.number("CONSUMER_PRIORITY_MAX_WAIT_SECONDS", 10, minimum=0.1),
            metrics_port=env.integer("CONSUMER_METRICS_PORT", 0, minimum=0),
            metrics_address=env.text("CONSUMER_METRICS_ADDRESS", "127.0.0.1"),
            max_attempts=env.integer("TASK_MAX_ATTEMPTS", 5, minimum=1),
            retry_base_seconds=env.number("TASK_RETRY_BASE_SECONDS", 2, minimum=0),
            retry_max_seconds=env.number("TASK_RETRY_MAX_SECONDS", 300, minimum=0),
            heartbeat_ttl_seconds=env.number("CONSUMER_HEARTBEAT_TTL_SECONDS", 15, minimum=1),
            reap_interval_seconds=env.number("CONSUMER_REAP_INTERVAL_SECONDS", 5, minimum=0.1),
            done_marker_seconds=env.integer("CONSUMER_DONE_MARKER_SECONDS", 7 * 24 * 3600, minimum=1),
            history_kept=env.integer("TASK_HISTORY_KEPT", TASK_HISTORY_KEPT, minimum=1),
            results_sink=(sink := env.choice("RESULTS_SINK", "folder", ("folder", "s3"))),
            results_s3_bucket=_bucket(env, sink),
            results_s3_prefix=env.text("RESULTS_S3_PREFIX", "processed_data/"),
            results_s3_endpoint_url=env.text("RESULTS_S3_ENDPOINT_URL"),
        )


def _bucket(env: Environment, sink: str) -> str:
    bucket = env.text("RESULTS_S3_BUCKET")
    if sink == "s3" and not bucket:
        raise ConfigError("RESULTS_S3_BUCKET must name the bucket when RESULTS_SINK is s3")
    return bucket
