"""A transactional outbox for enrichment tasks: no pet is left without its task.

The task is built and saved *with* the pet (`outbox_task`), then pushed to Redis and cleared.
If Redis is down, or the process dies between the two, the task stays in the document and the
relay (`manage.py relay_outbox`, a process of its own) pushes it once Redis answers. A task may
be pushed twice (pushed, then the clearing write failed): it carries the same `task_id` both
times, and the workers write one file per task id.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from pymongo.errors import PyMongoError

from contracts.queue import build_task
from pets.models import Pet, utc_now
from pets.task_queue import push_task

log = logging.getLogger(__name__)

# A relay that claimed a task and died: another may take it after this lease.
RELAY_LEASE = timedelta(seconds=30)
# Redis refused: when the relay tries that task again.
RELAY_RETRY = timedelta(seconds=3)


def stage_task(pet: Pet, *, reason: str) -> None:
    """Attach a new enrichment task to `pet`; it is saved with the pet's next `save()`."""
    task = build_task(
        pet_id=str(pet.id),
        name=pet.name,
        species=pet.species,
        age=pet.age,
        owner=pet.owner,
        vaccinated=pet.vaccinated,
        reason=reason,
    )
    pet.outbox_task = task.to_json()
    # The request that saved the pet pushes the task itself; the relay waits a while before trying.
    pet.outbox_due_at = utc_now() + timedelta(seconds=settings.OUTBOX_GRACE_SECONDS)


def deliver(pet: Pet) -> bool:
    """Push the pet's staged task to Redis and clear it; False when Redis did not take it."""
    payload = pet.outbox_task
    if not payload or not push_task(payload):
        return False
    # Only clear what we pushed: a newer update may have staged another task meanwhile.
    try:
        Pet.objects(id=pet.id, outbox_task=payload).update_one(unset__outbox_task=True, unset__outbox_due_at=True)
    except PyMongoError as exc:
        # The task is queued; the relay will push it once more, and the workers skip the copy.
        log.warning("Task of pet %s queued, but not cleared from the outbox: %s", pet.id, exc)
    pet.outbox_task = pet.outbox_due_at = None
    return True


RELAY_BATCH = 200


def relay_due(batch: int = RELAY_BATCH) -> int:
    """Push up to `batch` staged tasks that are due; returns how many went to Redis."""
    sent = 0
    while sent < batch:
        now = utc_now()
        pet = (
            Pet.objects(outbox_due_at__lte=now)
            .order_by("outbox_due_at")
            .modify(set__outbox_due_at=now + RELAY_LEASE, new=True)
        )
        if pet is None:
            break
        if not deliver(pet):
            Pet.objects(id=pet.id, outbox_task=pet.outbox_task).update_one(set__outbox_due_at=now + RELAY_RETRY)
            break  # Redis is not answering: try again on the next round
        sent += 1
    return sent
