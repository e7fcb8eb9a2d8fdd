"""Prometheus metrics of one consumer, served on its own port (CONSUMER_METRICS_PORT; unset: off).

Each consumer is a scrape target of its own: Prometheus tells them apart by their address.
- `petapp_worker_tasks_total{outcome}`: done, duplicate (a redelivery found done), retried,
  dead_lettered, invalid (not a task), poison (anything that raised while it was handled);
- `petapp_worker_task_duration_seconds`: the work on one task (Wikipedia, document, file);
- `petapp_worker_enqueue_to_done_seconds`: from the API queueing a task to its result recorded;
- `petapp_wikipedia_requests_total{answer}`: HTTP status of each request, or `error`;
- `petapp_wikipedia_summaries_total{source}`: where a summary came from: `memory`, `redis` (the
  shared cache) or `wikipedia`;
- `petapp_wikipedia_rate_limit_waits_total` and `..._wait_seconds_total`: waits for the shared
  request budget.
"""

from __future__ import annotations

from infra.environment import unset_if_blank

unset_if_blank("PROMETHEUS_MULTIPROC_DIR")  # before prometheus-client reads it

from prometheus_client import Counter, Histogram, start_http_server  # noqa: E402

TASKS = Counter("petapp_worker_tasks", "Tasks handled, by outcome", ["outcome"])
TASK_SECONDS = Histogram(
    "petapp_worker_task_duration_seconds",
    "Work on one task: the Wikipedia summary, the document, the file",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ENQUEUE_TO_DONE_SECONDS = Histogram(
    "petapp_worker_enqueue_to_done_seconds",
    "From the API queueing a task to its result recorded",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
WIKIPEDIA_REQUESTS = Counter("petapp_wikipedia_requests", "Requests to Wikipedia, by answer", ["answer"])
SUMMARIES = Counter("petapp_wikipedia_summaries", "Species summaries, by where they came from", ["source"])
RATE_LIMIT_WAITS = Counter("petapp_wikipedia_rate_limit_waits", "Waits for the shared Wikipedia request budget")
RATE_LIMIT_WAIT_SECONDS = Counter(
    "petapp_wikipedia_rate_limit_wait_seconds", "Time spent waiting for the shared Wikipedia request budget"
)

for outcome in ("done", "duplicate", "retried", "dead_lettered", "invalid", "poison", "cancelled"):
    TASKS.labels(outcome)  # every outcome shows from the start, at 0 (rates need a first sample)


def serve(port: int, address: str) -> None:
    """Serve /metrics from a background thread of this process."""
    start_http_server(port, addr=address)
