"""Pet enrichment worker: `CONSUMER_ID=1 python consumer.py`.

Takes tasks from the Redis list `pets:tasks`, enriches each pet (Wikipedia summary of its species,
species facts, health tips) and writes one JSON file per task into `PROCESSED_DIR`.
Configuration comes from the environment; see `.env.example`.
"""

from __future__ import annotations

import sys

import redis

from worker.config import WorkerSettings
from worker.logs import configure_logging
from worker.runner import Consumer
from worker.wikipedia import CachedWikipedia, WikipediaClient


def main() -> int:
    settings = WorkerSettings.from_env()
    configure_logging(settings.consumer_name)
    redis_client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=5,
        # A blocking BLMOVE waits up to poll_seconds for a reply: the socket must wait longer.
        socket_timeout=settings.poll_seconds + 10,
        health_check_interval=30,
    )
    wikipedia = CachedWikipedia(
        WikipediaClient(
            settings.wikipedia_api_url,
            settings.wikipedia_user_agent,
            settings.wikipedia_timeout_seconds,
        ),
        redis_client,
        settings.wikipedia_cache_seconds,
    )
    consumer = Consumer(settings, redis_client, wikipedia)
    consumer.install_signal_handlers()
    return consumer.run()


if __name__ == "__main__":
    sys.exit(main())
