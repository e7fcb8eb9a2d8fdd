"""GET /metrics on the API as production serves it (gunicorn, two worker processes)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import requests
from prometheus_client.parser import text_string_to_metric_families

from contracts.tasks import TASKS_KEY, build_task
from tests.support.api import METRICS_TOKEN, api_environment, start_api
from tests.support.processes import free_port, wait_until
from tests.support.tasks import push, wait_for_files
from tests.support.wikipedia import serve_summary

TASKS = "petapp_worker_tasks_total"
PET = {"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": True}


def scrape(api_server) -> dict[tuple[str, frozenset], float]:
    response = requests.get(
        f"{api_server.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_refused_without_the_token(api_server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Token {METRICS_TOKEN}"}):
        response = requests.get(f"{api_server.base_url}/metrics", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"error": "Metrics need 'Authorization: Bearer <METRICS_TOKEN>'"}


def test_requests_are_counted_by_route_across_gunicorn_workers(api_server, api):
    post = {"route": "/api/pets/", "method": "POST", "status": "201"}
    before = scrape(api_server)
    headers = dict(api.session.headers)
    for _ in range(12):  # a new connection each: the two worker processes share them
        response = requests.post(f"{api_server.base_url}/api/pets/", json=PET, headers=headers, timeout=10)
        assert response.status_code == 201
    pet_id = response.json()["pet"]["id"]
    assert requests.get(f"{api_server.base_url}/api/pets/{pet_id}/", headers=headers, timeout=10).ok
    after = scrape(api_server)
    counted = "petapp_http_requests_total"
    assert value(after, counted, **post) - value(before, counted, **post) == 12
    timed = {"route": "/api/pets/", "method": "POST"}
    count = "petapp_http_request_duration_seconds_count"
    assert value(after, count, **timed) - value(before, count, **timed) == 12
    detail = {"route": "/api/pets/<str:pet_id>/", "method": "GET", "status": "200"}
    assert value(after, counted, **detail) >= 1  # the template, never the id
    assert not any(pet_id in str(labels) for _, labels in after)
    inserts = {"command": "insert", "outcome": "ok"}
    mongo = "petapp_mongodb_command_duration_seconds_count"
    assert value(after, mongo, **inserts) - value(before, mongo, **inserts) >= 12


def test_queue_gauges_read_redis_and_the_oldest_task_ages(api_server, redis_client):
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for number in range(3):
        task = build_task(pet_id=f"{number:024x}", name="Luna", species="Cat", age=3, owner="Ana", vaccinated=True,
                          reason="created")  # fmt: skip
        redis_client.rpush(TASKS_KEY, replace(task, enqueued_at=an_hour_ago if number == 0 else None).to_json())
    first = scrape(api_server)
    assert value(first, "petapp_queue_up") == 1
    assert value(first, "petapp_queue_tasks_queued") == 3
    assert value(first, "petapp_queue_tasks_dead") == value(first, "petapp_queue_tasks_delayed") == 0
    assert value(first, "petapp_queue_live_consumers") == 0
    assert 3600 <= value(first, "petapp_queue_oldest_task_age_seconds") < 3660
    time.sleep(1.1)
    later = scrape(api_server)
    assert value(later, "petapp_queue_oldest_task_age_seconds") > value(first, "petapp_queue_oldest_task_age_seconds")


def test_a_consumer_counts_its_tasks_and_where_summaries_came_from(start_consumer, redis_client, wikipedia, tmp_path):
    serve_summary(wikipedia, "Cat")
    port = free_port()
    start_consumer("1", CONSUMER_METRICS_PORT=str(port))
    for number in range(3):
        push(redis_client, pet_id=f"{number:024x}", name=f"Pet {number}")
    redis_client.rpush(TASKS_KEY, b"not a task")
    wait_for_files(tmp_path / "processed_data", 3)

    def worker_metrics() -> dict:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def all_done() -> dict | None:
        samples = worker_metrics()
        return samples if value(samples, TASKS, outcome="done") == 3 else None

    samples = wait_until(all_done, what="3 tasks counted done")
    assert value(samples, TASKS, outcome="invalid") == 1
    assert value(samples, TASKS, outcome="dead_lettered") == value(samples, TASKS, outcome="retried") == 0
    assert value(samples, "petapp_worker_task_duration_seconds_count") == 3
    assert value(samples, "petapp_worker_enqueue_to_done_seconds_count") == 3
    assert value(samples, "petapp_wikipedia_requests_total", answer="200") == 1  # one per species
    summaries = "petapp_wikipedia_summaries_total"
    assert value(samples, summaries, source="wikipedia") == 1
    assert value(samples, summaries, source="memory") + value(samples, summaries, source="redis") == 2


def test_a_blank_multiprocess_directory_as_in_the_example_env_still_adds_up(
    tmp_path, logs_dir, mongo_uri, redis_server
):
    """`make run` exports .env.example's blank PROMETHEUS_MULTIPROC_DIR: gunicorn makes its own."""
    env = api_environment(tmp_path, mongo_uri=mongo_uri, redis_url=redis_server.url, PROMETHEUS_MULTIPROC_DIR="")
    server = start_api(env, logs_dir, name="api-blank-metrics-dir")
    try:
        for _ in range(8):  # a new connection each: both worker processes answer some
            assert requests.get(f"{server.base_url}/health/", timeout=10).ok
        health = {"route": "/health/", "method": "GET", "status": "200"}
        assert value(scrape(server), "petapp_http_requests_total", **health) == 8
    finally:
        server.process.stop()
