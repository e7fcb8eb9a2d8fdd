"""RESULTS_SINK=s3: consumers publish result files to an S3-compatible bucket (moto's server mode,
a real HTTP server on 127.0.0.1), once per task, however often a task is delivered."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest

from contracts.tasks import done_key, parse_task
from tests.support.processes import VENV_BIN, Process, base_env, free_port, wait_until
from tests.support.tasks import push
from tests.support.wikipedia import serve_summary

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
BUCKET = "pet-results"


@pytest.fixture(scope="module")
def s3_endpoint(logs_dir, tmp_path_factory):
    port = free_port()
    server = Process("moto-s3", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                     base_env(**CREDENTIALS), logs_dir, cwd=tmp_path_factory.mktemp("moto"))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: "Running on" in server.output(), timeout=30, what="the S3 server")
    yield url
    server.stop()


@pytest.fixture
def bucket(s3_endpoint):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def objects(client) -> dict[str, dict]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="results/").get("Contents", [])
    bodies = {item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}
    return {key: json.loads(body) for key, body in bodies.items()}


def test_files_land_in_the_bucket_once_per_task_and_a_redelivery_writes_nothing_new(
    start_consumer, bucket, s3_endpoint, redis_client, wikipedia, tmp_path
):
    serve_summary(wikipedia, "Cat")
    consumer = start_consumer("1", RESULTS_SINK="s3", RESULTS_S3_BUCKET=BUCKET, RESULTS_S3_PREFIX="results/",
                              RESULTS_S3_ENDPOINT_URL=s3_endpoint, **CREDENTIALS)  # fmt: skip
    tasks = [push(redis_client, name=f"Cat{number}") for number in range(3)]
    twin = replace(parse_task(json.dumps(tasks[0])), task_id="another-task")  # same pet, name and second
    redis_client.rpush("pets:tasks", twin.to_json())
    tasks.append(json.loads(twin.to_json()))
    wait_until(lambda: len(objects(bucket)) == 4, what="4 objects")
    stored = objects(bucket)
    assert sorted(document["metadata"]["task_id"] for document in stored.values()) == sorted(
        task["task_id"] for task in tasks
    )
    assert any(key.endswith("_1.json") for key in stored)  # the second task on one name got the next
    assert not (tmp_path / "processed_data").exists() or not list((tmp_path / "processed_data").glob("*.json"))

    # A crash after the upload, before the task was marked done: it comes again, and is kept as is.
    redis_client.delete(done_key(tasks[1]["task_id"]))
    redis_client.rpush("pets:tasks", json.dumps(tasks[1]))
    wait_until(lambda: "already written to" in consumer.output(), what="the redelivery seen")
    assert len(objects(bucket)) == 4


def test_an_unreachable_bucket_is_retried_then_dead_lettered_with_the_reason(start_consumer, redis_client, wikipedia):
    serve_summary(wikipedia, "Cat")
    start_consumer("1", RESULTS_SINK="s3", RESULTS_S3_BUCKET=BUCKET, TASK_MAX_ATTEMPTS="2",
                   RESULTS_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", **CREDENTIALS)  # fmt: skip
    push(redis_client)
    wait_until(lambda: redis_client.llen("pets:dead") == 1, timeout=30, what="the dead letter")
    entry = json.loads(redis_client.lindex("pets:dead", 0))
    assert entry["error"].startswith("SinkUnavailable: s3://pet-results/processed_data/")
