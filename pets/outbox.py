"""A transactional outbox for enrichment tasks: no pet is left without its task.

The task is built and saved *with* the pet (`outbox_task`, in the same single insert or update),
then pushed to Redis in one round trip that also records its id in `DELIVERED_KEY`. Nothing is
cleared on the request path: that would be a second database write per pet. The relay
(`manage.py relay_outbox`, a process of its own) looks at tasks staged more than
OUTBOX_GRACE_SECONDS ago, in batches: those Redis has (their id is in `DELIVERED_KEY`) are cleared
from their pets with one bulk write; the others (Redis was down, or the API died between the two
steps) are pushed, then cleared. A task may be pushed twice (pushed, then the relay could not
clear it): it carries the same `task_id` both times, and the workers process a task id once.

The markers are bounded: the relay removes those of the tasks it cleared, and every round drops
markers older than OUTBOX_MARKER_SECONDS, which is how the markers of tasks superseded before the
relay saw them (a pet updated twice in a few seconds) go. A relay stopped for longer than that
pushes the tasks it then finds again, harmlessly (same task ids).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from bson import ObjectId
from django.conf import settings
from pymongo import UpdateOne

from contracts.tasks import NORMAL, InvalidTask, Task, build_task, parse_task
from pets import producer
from pets.models import Pet, utc_now
from pets.redis_client import get_redis, get_replica

log = logging.getLogger(__name__)

# A relay that claimed a task and died: another may take it after this lease.
RELAY_LEASE = timedelta(seconds=30)
# Redis refused: when the relay tries that task again.
RELAY_RETRY = timedelta(seconds=3)
RELAY_BATCH = 200


def task_for(document: dict, *, reason: str, priority: str = NORMAL) -> Task:
    """A new enrichment task for the pet in `document` (as it is about to be stored); the write
    stores it with the pet (`outbox_fields`)."""
    return build_task(
        pet_id=str(document["_id"]),
        name=document["name"],
        species=document["species"],
        age=document["age"],
        owner=document["owner"],
        vaccinated=document["vaccinated"],
        reason=reason,
        priority=priority,
    )


def outbox_fields(task: Task) -> dict[str, object]:
    """What a pet's document keeps of its staged task until the relay clears it: the payload, and
    when the relay may look (the request that saves the pet pushes the task itself, so a while)."""
    return {
        "outbox_task": task.to_json(),
        "outbox_due_at": utc_now() + timedelta(seconds=settings.OUTBOX_GRACE_SECONDS),
    }


@dataclass(frozen=True)
class RelayRound:
    cleared: int  # tasks Redis had: cleared from their pets
    pushed: int  # tasks Redis did not have: pushed, then cleared

    @property
    def handled(self) -> int:
        return self.cleared + self.pushed


def relay_due(batch: int = RELAY_BATCH) -> RelayRound:
    """One round over up to `batch` staged tasks that are due (one query, one bulk write)."""
    now = utc_now()
    collection = Pet._get_collection()
    due = list(
        collection.find({"outbox_due_at": {"$lte": now}}, {"outbox_task": 1}).sort("outbox_due_at", 1).limit(batch)
    )
    staged: list[tuple[ObjectId, str | None, str | None]] = []  # pet id, payload, task id
    for document in due:
        try:
            staged.append((document["_id"], document["outbox_task"], parse_task(document["outbox_task"]).task_id))
        except (InvalidTask, KeyError, TypeError):
            log.error("Pet %s has an unreadable outbox task: cleared", document["_id"])
            staged.append((document["_id"], document.get("outbox_task"), None))
    if not staged:
        return RelayRound(0, 0)
    client = get_redis()
    known = [task_id for _, _, task_id in staged if task_id]
    # Delivered means a replica has it, under Sentinel: Redis replicates asynchronously, and a task
    # only the old master had is lost in a failover. Until a replica has its marker, it stays here.
    marked = get_replica().zmscore(producer.DELIVERED_KEY, known) if known else []
    delivered = {task_id: score is not None for task_id, score in zip(known, marked, strict=True)}
    done = [(pet_id, payload) for pet_id, payload, task_id in staged if not task_id or delivered.get(task_id)]
    missing = [
        (pet_id, payload)
        for pet_id, payload, task_id in staged
        if task_id and payload is not None and not delivered.get(task_id)
    ]
    if missing:
        # Claim them (another relay waits out the lease), then push them all in one round trip.
        _bulk(collection, missing, {"$set": {"outbox_due_at": now + RELAY_LEASE}})
        try:
            with client.pipeline(transaction=False) as pipe:
                for _, payload in missing:
                    producer.enqueue_on(pipe, payload)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("Redis did not take the outbox tasks, retrying in %ss: %s", RELAY_RETRY.seconds, exc)
            _bulk(collection, missing, {"$set": {"outbox_due_at": now + RELAY_RETRY}})
            missing = []
    _bulk(collection, done + missing, {"$unset": {"outbox_task": True, "outbox_due_at": True}})
    if known:
        client.zrem(producer.DELIVERED_KEY, *known)
    return RelayRound(cleared=len(done), pushed=len(missing))


LEGACY_DELIVERED_KEY = "pets:outbox:delivered"  # the markers' earlier form: a set nothing bounded


def drop_legacy_markers() -> None:
    """Delete the earlier form of the markers (once, when a relay starts): the tasks they marked
    that are still staged are pushed again by this relay, harmlessly (same task ids)."""
    try:
        get_redis().delete(LEGACY_DELIVERED_KEY)
    except redis.RedisError:
        pass  # the next start tries again


def drop_old_markers() -> int:
    """Remove delivered markers older than OUTBOX_MARKER_SECONDS; how many went."""
    oldest_kept = time.time() - settings.OUTBOX_MARKER_SECONDS
    return int(get_redis().zremrangebyscore(producer.DELIVERED_KEY, "-inf", f"({oldest_kept}"))


def _bulk(collection, pets: list[tuple], change: dict) -> None:  # noqa: ANN001 (a pymongo Collection)
    """Apply `change` to these pets, unless a newer task was staged on one meanwhile."""
    if pets:
        collection.bulk_write([UpdateOne({"_id": pet_id, "outbox_task": payload}, change) for pet_id, payload in pets])
