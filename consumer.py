"""Pet enrichment worker.

    CONSUMER_ID=1 python consumer.py          run a worker (Consumer-1)
    python consumer.py status                  where the tasks are: queued, processing, delayed, dead
    CONSUMER_ID=1 python consumer.py health    exit 0 if Consumer-1's heartbeat is current (health check)
    python consumer.py scheduler               housekeeping only: due retries back, lapsed consumers' tasks back
    python consumer.py dead list               dead letters: id, pet, attempts, error
    python consumer.py dead show ID            one dead letter in full (its id or its task id)
    python consumer.py dead requeue ID [ID..]  queue them again (--all for every one)
    python consumer.py dead purge --yes        delete them all

The worker takes tasks from the Redis lists `pets:tasks:high`, `pets:tasks` and `pets:tasks:low`,
enriches each pet (Wikipedia summary of its species, species facts, health tips), writes one JSON
file per task into `PROCESSED_DIR` and records the result in MongoDB (`MONGODB_URI`) for the API
and the page.
Configuration comes from the environment; see `.env.example`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys

import redis

from contracts.tasks import heartbeat_key
from infra import redis_url
from infra.environment import ConfigError
from infra.redis_url import quick_retry, redacted
from queue_tools import audit, dead_letter_ops
from queue_tools.state import queue_counts
from worker import metrics
from worker.broker import TaskQueue
from worker.config import WorkerSettings
from worker.logs import configure_logging
from worker.results_store import ResultStore
from worker.runner import Consumer
from worker.scheduler import Scheduler
from worker.sinks import FolderSink, ResultSink, S3Sink, s3_client
from worker.wikipedia import CachedWikipedia, SharedRateLimit, WikipediaClient


def connect(settings: WorkerSettings) -> redis.Redis:
    return redis_url.connect(
        settings.redis_url,
        socket_connect_timeout=5,
        # A blocking BLMOVE waits up to poll_seconds for a reply: the socket must wait longer.
        socket_timeout=settings.poll_seconds + 10,
        health_check_interval=30,
        retry=quick_retry(),
    )


def run_worker(settings: WorkerSettings) -> int:
    configure_logging(settings.consumer_name)
    redis_client = connect(settings)
    wikipedia = CachedWikipedia(
        WikipediaClient(
            settings.wikipedia_api_url,
            settings.wikipedia_user_agent,
            settings.wikipedia_timeout_seconds,
            max_retry_after_seconds=settings.retry_max_seconds,
        ),
        redis_client,
        settings.wikipedia_cache_seconds,
        SharedRateLimit(redis_client, settings.wikipedia_requests_per_second),
    )
    results = ResultStore(settings.mongodb_uri, settings.mongodb_timeout_ms)
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_address)
    queue = TaskQueue(redis_client, settings.consumer_name, settings.done_marker_seconds, settings.history_kept)
    consumer = Consumer(settings, queue, wikipedia, results, sink(settings))
    consumer.install_signal_handlers()
    return consumer.run()


def sink(settings: WorkerSettings) -> ResultSink:
    """Where result files go: PROCESSED_DIR, or RESULTS_S3_BUCKET when RESULTS_SINK is s3."""
    if settings.results_sink == "s3":
        client = s3_client(settings.results_s3_endpoint_url, settings.wikipedia_timeout_seconds)
        return S3Sink(client, settings.results_s3_bucket, settings.results_s3_prefix)
    return FolderSink(settings.processed_dir)


def run_scheduler(settings: WorkerSettings) -> int:
    name = f"Scheduler-{socket.gethostname()}-{os.getpid()}"
    configure_logging(name)
    scheduler = Scheduler(TaskQueue(connect(settings), name), settings.reap_interval_seconds)
    scheduler.install_signal_handlers()
    return scheduler.run()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="consumer.py", description="Pet enrichment worker and queue tools.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run a worker (the default)")
    commands.add_parser("scheduler", help="only promote due retries and reap lapsed consumers (no tasks)")
    commands.add_parser("status", help="counts of queued, processing, delayed and dead tasks")
    commands.add_parser("health", help="exit 0 if this CONSUMER_ID's heartbeat is current, else 1")
    dead = commands.add_parser("dead", help="inspect and act on the dead-letter list").add_subparsers(
        dest="action", required=True
    )
    dead.add_parser("list", help="one line per dead letter")
    show = dead.add_parser("show", help="one dead letter in full")
    show.add_argument("id", help="the entry id or the task id")
    requeue = dead.add_parser("requeue", help="queue dead letters again")
    requeue.add_argument("ids", nargs="*", help="entry ids or task ids")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    purge = dead.add_parser("purge", help="delete every dead letter")
    purge.add_argument("--yes", action="store_true", help="really delete them")
    return parser.parse_args(argv)


def run_dead_letter_command(client: redis.Redis, args: argparse.Namespace) -> int:
    if args.action == "list":
        entries = dead_letter_ops.list_entries(client)
        for entry in entries:
            print(
                f"{entry.id}  task={entry.task_id or '-'}  pet={entry.pet_id or '-'}  attempts={entry.attempts}  "
                f"failed_at={entry.failed_at}  error={entry.error}"
            )
        print(f"{len(entries)} dead letter(s)")
        return 0
    if args.action == "show":
        found = dead_letter_ops.find_entry(client, args.id)
        if found is None:
            print(f"no dead letter with id or task id {args.id}", file=sys.stderr)
            return 1
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        return 0
    if args.action == "requeue":
        if not args.all and not args.ids:
            print("name the ids to requeue, or --all", file=sys.stderr)
            return 2
        moved = dead_letter_ops.requeue(client, None if args.all else args.ids, by=operator())
        what = "every dead letter" if args.all else ", ".join(args.ids)
        audit.record(client, who=operator(), action="requeue", detail=f"{what}: {moved} requeued")
        print(f"requeued {moved} task(s)")
        return 0 if args.all or moved == len(args.ids) else 1
    if not args.yes:
        print("purge deletes every dead letter: add --yes", file=sys.stderr)
        return 2
    deleted = dead_letter_ops.purge(client)
    audit.record(client, who=operator(), action="purge", detail=f"{deleted} dead letter(s) deleted")
    print(f"deleted {deleted} dead letter(s)")
    return 0


def operator() -> str:
    """Who ran an operator command, for the audit trail (queue_tools/audit.py)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no name
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} (consumer.py)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = WorkerSettings.from_env()
    except ConfigError as exc:
        print(f"consumer.py: {exc}", file=sys.stderr)
        return 2
    if args.command in (None, "run"):
        return run_worker(settings)
    if args.command == "scheduler":
        return run_scheduler(settings)
    client = connect(settings)
    print(f"Redis: {redacted(settings.redis_url)}", file=sys.stderr)  # which queue these tools look at
    try:
        if args.command == "status":
            print(json.dumps(queue_counts(client), indent=2))
            return 0
        if args.command == "health":
            alive = bool(client.exists(heartbeat_key(settings.consumer_name)))
            print(f"{settings.consumer_name}: {'alive' if alive else 'no current heartbeat'}")
            return 0 if alive else 1
        return run_dead_letter_command(client, args)
    except redis.RedisError as exc:
        print(f"Redis unavailable at {redacted(settings.redis_url)}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
