"""The load both benchmarks put on the API (`python -m bench` and `python -m bench.compare`): the
admin's token, the pet a POST run creates, pets created through the API or seeded straight into the
database as if enriched, and one wrk run priced in CPU per request: the server's and the database's
(the embedded database is a process of its own, and on a short list it does most of the work)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from bson import ObjectId

from bench.harness import Service, Stack, cpu_seconds, redis_cpu_seconds
from bench.load import run_wrk
from contracts.results import RESULTS_COLLECTION, ResultRecord
from contracts.task_status import STATUS_KEY
from contracts.tasks import TASKS_KEY, WAKE_KEY, build_task
from worker.enrichment import build_document
from worker.wikipedia import FOUND, Summary

COUNTS_KEY = "pets:counts"  # pets/counts.py (the benchmark does not import Django)
DELIVERED_KEY = "pets:outbox:delivered-at"  # pets/producer.py

SPECIES = ["Cat", "Dog", "Rabbit", "Hamster", "Parrot"]
PET_BODY = '{"name": "Luna", "species": "Cat", "age": 3, "owner": "Ana", "vaccinated": true}'
T = TypeVar("T")


def turns(order: list[T], turn: int) -> list[T]:
    """What is measured, in this turn's order: each is served first in its turn. In one fixed order
    the same code read 9 % more CPU per POST served first than served second (bench.compare, 8
    turns: 3.56 against 3.25 ms), and make bench served the API first every time; taking turns,
    the two read 3.18 and 3.16 ms."""
    shift = turn % len(order)
    return order[shift:] + order[:shift]


def login(url: str) -> str:
    response = requests.post(f"{url}/api/token/", json={"username": "admin", "password": "admin123"}, timeout=10)
    response.raise_for_status()
    return response.json()["access"]


def seed_pets(stack: Stack, count: int, *, start: int = 0) -> None:
    """`count` more pets (each older than the last, 30 s apart), every one enriched: its result
    recorded as a worker records it (contracts/results.ResultRecord)."""
    newest = datetime(2026, 11, 1, tzinfo=UTC)
    pets: list[dict[str, Any]] = []
    results: list[dict] = []
    for number in range(start, start + count):
        created = newest - timedelta(seconds=30 * number)
        species = SPECIES[number % len(SPECIES)]
        pet: dict[str, Any] = {
            "_id": ObjectId(), "name": f"Pet {number}", "species": species, "species_key": species.lower(),
            "age": number % 15, "owner": "Bench", "vaccinated": number % 2 == 0,
            "created_at": created, "updated_at": created,
        }  # fmt: skip
        pets.append(pet)
        task = build_task(pet_id=str(pet["_id"]), name=pet["name"], species=species, age=pet["age"],
                          owner="Bench", vaccinated=pet["vaccinated"], reason="created")  # fmt: skip
        summary = Summary(FOUND, species, f"The {species} is an animal.", None, None)
        document = build_document(task, summary, consumer_name="Consumer-1", processed_at=created, duration_seconds=0)
        results.append(ResultRecord.from_enriched(document, f"{pet['_id']}.json").to_document())
    for first in range(0, len(pets), 1000):
        stack.db.pet.insert_many(pets[first : first + 1000])
        stack.db[RESULTS_COLLECTION].insert_many(results[first : first + 1000])
    stack.redis.delete(COUNTS_KEY)  # written behind the API's back: let it count again


def create_pets_through_api(url: str, token: str, count: int) -> None:
    """`count` pets created as a user creates them (POST): their tasks queued, the counts kept."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    for number in range(count):
        body = {"name": f"Pet {number}", "species": SPECIES[number % len(SPECIES)], "age": number % 15,
                "owner": "Bench", "vaccinated": number % 2 == 0}  # fmt: skip
        session.post(f"{url}/api/pets/", json=body, timeout=30).raise_for_status()


def forget_pets(stack: Stack, *, owner: str | None = None) -> None:
    """Nothing queued or counted, and no pet (with `owner`: none of that owner's, which is how a
    POST run's pets go and the collection stays at its seeded size); no result either, for all."""
    stack.db.pet.delete_many({} if owner is None else {"owner": owner})
    if owner is None:
        stack.db[RESULTS_COLLECTION].delete_many({})
    stack.redis.delete(TASKS_KEY, WAKE_KEY, COUNTS_KEY, STATUS_KEY, DELIVERED_KEY)


def load_run(
    stack: Stack, service: Service, url: str, *, token: str | None, seconds: float, connections: int, body: str | None
) -> dict:
    """One wrk run against `service`: its LoadResult fields, the service's CPU per request
    (`cpu_ms`), the database's (`db_cpu_ms`) and Redis's (`redis_cpu_ms`); what a POST run created
    is dropped after it."""
    before, db_before, redis_before = cpu_seconds([service]), cpu_seconds([stack.mongo]), redis_cpu_seconds(stack.redis)
    result = run_wrk(url, token=token, seconds=seconds, connections=connections, body=body)
    requests_made = max(result.requests, 1)
    cpu_ms = (cpu_seconds([service]) - before) / requests_made * 1000
    db_cpu_ms = (cpu_seconds([stack.mongo]) - db_before) / requests_made * 1000
    redis_cpu_ms = (redis_cpu_seconds(stack.redis) - redis_before) / requests_made * 1000
    if body is not None:
        forget_pets(stack, owner="Ana")  # PET_BODY's owner
    return asdict(result) | {"cpu_ms": cpu_ms, "db_cpu_ms": db_cpu_ms, "redis_cpu_ms": redis_cpu_ms}
