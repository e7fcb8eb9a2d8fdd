"""Prometheus metrics of the API: its requests, its MongoDB commands, and the queue as Redis has it.

- Requests by route template, method and status, and their latency (`MetricsMiddleware`).
- MongoDB command latency by command name (`MongoCommandMetrics`, pymongo's command monitoring).
- The queue, read from Redis at each scrape (`QueueCollector`): queued, processing, delayed and
  dead tasks, live consumers, and the age of the task at the head of the queue.

gunicorn runs several worker processes, each counting its own requests: prometheus-client's
multiprocess mode adds them up. gunicorn.conf.py gives the workers a fresh PROMETHEUS_MULTIPROC_DIR
at start and marks dead workers; a process without that variable (manage.py, tests in process)
counts in memory, for itself.

`GET /metrics` is not public: it wants `Authorization: Bearer <METRICS_TOKEN>`, and answers 404
when no METRICS_TOKEN is set (metrics off).
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pymongo import monitoring

from pets.redis_client import get_redis
from queue_tools.state import oldest_queued_age_seconds, queue_counts

log = logging.getLogger(__name__)

REQUESTS = Counter("petapp_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "petapp_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MONGO_SECONDS = Histogram(
    "petapp_mongodb_command_duration_seconds",
    "Time MongoDB took to answer a command, as the API saw it",
    ["command", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
UNMATCHED = "<unmatched>"  # a path no route matched (a 404): one label, whatever the path


# Each labelled child once per process: `labels()` validates and locks on every call, three times
# a request. Bounded: a method or status label is whatever a client sent or got.
@functools.lru_cache(maxsize=1024)
def _request_timer(route: str, method: str) -> Histogram:
    return REQUEST_SECONDS.labels(route, method)


@functools.lru_cache(maxsize=1024)
def _request_counter(route: str, method: str, status: int) -> Counter:
    return REQUESTS.labels(route, method, str(status))


@functools.lru_cache(maxsize=1024)
def _mongo_timer(command: str, outcome: str) -> Histogram:
    return MONGO_SECONDS.labels(command, outcome)


class MetricsMiddleware:
    """Counts and times every request, labelled by its route template (never the raw path, which
    would make a label per pet id)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None and match.route is not None else UNMATCHED
        _request_timer(route, request.method).observe(time.perf_counter() - started)
        _request_counter(route, request.method, response.status_code).inc()
        return response


class MongoCommandMetrics(monitoring.CommandListener):
    """Times each MongoDB command (registered with the connection in pets/apps.py)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        _mongo_timer(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        _mongo_timer(event.command_name, "failed").observe(event.duration_micros / 1e6)


class QueueCollector(Collector):
    """The queue's gauges, read from Redis when Prometheus scrapes (one pipeline and one LINDEX)."""

    def collect(self) -> Iterator[Metric]:
        client = get_redis()
        try:
            counts = queue_counts(client)
            oldest = oldest_queued_age_seconds(client)
        except redis.RedisError as exc:
            log.warning("Queue metrics unavailable: %s", exc)
            up = GaugeMetricFamily("petapp_queue_up", "1 when Redis answered this scrape")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("petapp_queue_up", "1 when Redis answered this scrape")
        up.add_metric([], 1)
        yield up
        for name, key, help_text in (
            ("petapp_queue_tasks_queued", "queued", "Tasks waiting, all priorities"),
            ("petapp_queue_tasks_processing", "processing", "Tasks taken by a consumer and not finished"),
            ("petapp_queue_tasks_delayed", "delayed", "Tasks waiting for a retry"),
            ("petapp_queue_tasks_dead", "dead", "Tasks in the dead-letter list"),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], counts[key])
            yield gauge
        by_priority = GaugeMetricFamily(
            "petapp_queue_tasks_queued_by_priority", "Tasks waiting, by priority", labels=["priority"]
        )
        for priority, count in counts["queued_by_priority"].items():
            by_priority.add_metric([priority], count)
        yield by_priority
        live = GaugeMetricFamily("petapp_queue_live_consumers", "Consumers whose heartbeat is current")
        live.add_metric([], len(counts["live_consumers"]))
        yield live
        age = GaugeMetricFamily(
            "petapp_queue_oldest_task_age_seconds", "How long the task at the head of the queue has waited"
        )
        age.add_metric([], oldest)
        yield age


def scrape() -> bytes:
    """What a scrape shows: the counts of every gunicorn worker (multiprocess mode) or of this
    process, then the queue."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        counted = generate_latest(workers)
    else:
        counted = generate_latest(REGISTRY)
    queue = CollectorRegistry()
    queue.register(QueueCollector())
    return counted + generate_latest(queue)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`GET /metrics`, in Prometheus' text format, for a scraper holding METRICS_TOKEN."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "Not found"}, status=404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = JsonResponse({"error": "Metrics need 'Authorization: Bearer <METRICS_TOKEN>'"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
