"""A whole Pet App on 127.0.0.1 for fault tests: every part can be killed and restarted.

Redis runs with the compose file's persistence (append-only file, here fsync'd on every write),
the database is a SecantusDB process on a storage folder that survives restarts, and the API,
the outbox relay and the consumers are real processes.
"""

from __future__ import annotations

import collections
import json
import signal
import sys
from pathlib import Path

import pymongo

from tests.support.api import Api, api_environment, start_api
from tests.support.processes import VENV_BIN, Process, base_env, free_port, stop_all, wait_until
from tests.support.servers import RedisServer, start_redis


class Cluster:
    def __init__(self, root: Path, logs_dir: Path, wikipedia_url: str, **consumer_env: str) -> None:
        self.root = root
        self.logs_dir = logs_dir
        self.wikipedia_url = wikipedia_url
        self.consumer_env = consumer_env
        self.processed_dir = root / "processed_data"
        self.redis_port = free_port()
        self.mongo_port = free_port()
        self.mongo_uri = f"mongodb://127.0.0.1:{self.mongo_port}/pets_database?retryWrites=false"
        self.sentinel_url: str | None = None  # set: every part finds Redis through these Sentinels
        self.redis: RedisServer | None = None
        self.mongo: Process | None = None
        self.api = None
        self.relay: Process | None = None
        self.consumers: dict[str, Process] = {}
        self.starts = collections.Counter()

    # -- services --------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.starts["redis"] += 1
        self.redis = start_redis(
            self.root / "redis", self.logs_dir, f"cluster-redis-{self.starts['redis']}", self.redis_port, aof=True
        )

    def stop_redis(self, sig: int = signal.SIGTERM) -> None:
        self.redis.process.signal(sig)
        self.redis.process.wait(timeout=10)
        self.redis.process.stop()

    def start_mongo(self) -> None:
        self.starts["mongo"] += 1
        self.mongo = Process(
            f"cluster-mongo-{self.starts['mongo']}",
            [str(VENV_BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(self.mongo_port),
             "--storage-path", str(self.root / "mongo"), "--sync-on-commit", "--log-level", "WARNING"],
            base_env(),
            self.logs_dir,
        )  # fmt: skip
        client = pymongo.MongoClient(self.mongo_uri, serverSelectionTimeoutMS=500)
        wait_until(lambda: client.admin.command("ping"), timeout=30, what="SecantusDB")
        client.close()

    def stop_mongo(self) -> None:
        self.mongo.stop(timeout=15)

    @property
    def redis_url(self) -> str:
        return self.sentinel_url or f"redis://127.0.0.1:{self.redis_port}/0"

    def start_api_and_relay(self) -> None:
        env = api_environment(
            self.root / "api",
            mongo_uri=self.mongo_uri,
            redis_url=self.redis_url,
            PROCESSED_DIR=str(self.processed_dir),
            OUTBOX_GRACE_SECONDS="2",
            OUTBOX_RELAY_INTERVAL_SECONDS="0.5",
        )
        (self.root / "api").mkdir(exist_ok=True)
        self.api = start_api(env, self.logs_dir, "cluster-api")
        self.relay = Process("cluster-relay", [sys.executable, "manage.py", "relay_outbox"], env, self.logs_dir)

    def start_everything(self, consumers: str = "123") -> Api:
        """Redis, the database, the API, the relay and the consumers; returns a logged-in client."""
        self.start_redis()
        self.start_mongo()
        self.start_api_and_relay()
        for consumer_id in consumers:
            self.start_consumer(consumer_id)
        api = Api(self.api.base_url)
        api.login()
        return api

    # -- consumers -------------------------------------------------------------------------
    def start_consumer(self, consumer_id: str, wait: bool = True) -> Process:
        self.starts[consumer_id] += 1
        env = base_env(
            CONSUMER_ID=consumer_id,
            REDIS_URL=self.redis_url,
            MONGODB_URI=self.mongo_uri,
            MONGODB_TIMEOUT_MS="1500",
            PROCESSED_DIR=str(self.processed_dir),
            WIKIPEDIA_API_URL=self.wikipedia_url,
            **self.consumer_env,
        )
        name = f"cluster-consumer-{consumer_id}-{self.starts[consumer_id]}"
        process = Process(name, [sys.executable, "consumer.py"], env, self.logs_dir)
        self.consumers[consumer_id] = process
        if wait:
            wait_until(lambda: "Waiting for tasks" in process.output(), what=name)
        return process

    def consumer_logs(self) -> str:
        return "".join(path.read_text() for path in self.logs_dir.glob("cluster-consumer-*.log"))

    # -- results ---------------------------------------------------------------------------
    def files_by_pet(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = collections.defaultdict(list)
        for path in self.processed_dir.glob("*.json"):
            found[json.loads(path.read_text())["original_data"]["pet_id"]].append(path)
        return found

    def stop_all(self) -> None:
        running = [*self.consumers.values(), self.relay, self.api and self.api.process, self.mongo]
        stop_all([process for process in running if process is not None])
        if self.redis is not None:
            self.redis.process.stop()
