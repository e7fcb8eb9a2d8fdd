"""Backing servers the tests start on free ports: Redis (and Sentinel), PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.processes import Process, base_env, free_port, wait_until


@dataclass
class RedisServer:
    port: int
    process: Process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


def start_redis(
    work_dir: Path, logs_dir: Path, name: str, port: int | None = None, aof: bool = False, extra: tuple[str, ...] = ()
) -> RedisServer:
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed: `make services` installs it (Debian's redis-server)")
    port = port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(work_dir), "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
    server = RedisServer(port, Process(name, args + list(extra), base_env(), logs_dir))
    wait_until(lambda: server.client().ping(), what=f"redis on {port}")
    return server


# PostgreSQL: a server of the test's own, on a free port.
POSTGRES_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=None)
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]  # initdb refuses root


def start_sentinel(
    work_dir: Path, logs_dir: Path, name: str, master_port: int, replica_port: int, quorum: int = 2
) -> RedisServer:
    """A Redis Sentinel (redis-server in sentinel mode) watching the master `mymaster` on
    `master_port`; it calls the master down after 1 s of silence. It is told of the replica
    (otherwise it learns of it from the master's INFO, every 10 s)."""
    port = free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "sentinel.conf"  # a Sentinel rewrites its own configuration file
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {work_dir}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\n"
        "sentinel down-after-milliseconds mymaster 1000\n"
        "sentinel failover-timeout mymaster 10000\n"
        "sentinel parallel-syncs mymaster 1\n"
        f"sentinel known-replica mymaster 127.0.0.1 {replica_port}\n"
    )
    server = RedisServer(port, Process(name, ["redis-server", str(config), "--sentinel"], base_env(), logs_dir))
    wait_until(lambda: server.client().ping(), what=f"sentinel on {port}")
    return server


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    process: Process

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        """A fresh, empty database; its DATABASE_URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
            connection.execute(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres(logs_dir: Path, name: str = "postgres") -> PostgresServer:
    """initdb and start PostgreSQL (Debian's package) as its own user, on 127.0.0.1 only; fsync off."""
    assert POSTGRES_BIN is not None, "no PostgreSQL: make test installs it (scripts/ensure-system-packages.sh)"
    work = Path(tempfile.mkdtemp(prefix="petapp-postgres-"))  # outside pytest's root-only tmp dirs
    data = work / "data"
    shutil.chown(work, "postgres", "postgres")
    initdb = [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
    subprocess.run(AS_POSTGRES + initdb, check=True, capture_output=True, timeout=120)
    port = free_port()
    server = [str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(work)]
    server += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"]
    process = Process(name, AS_POSTGRES + server, base_env(), logs_dir, cwd=work)
    ready = [str(POSTGRES_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
    wait_until(lambda: subprocess.run(ready, capture_output=True).returncode == 0, timeout=30, what="PostgreSQL")
    return PostgresServer(port, data, process)
