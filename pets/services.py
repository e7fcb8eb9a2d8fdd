"""Writes: create, update and delete pets, queueing enrichment where its inputs change.

Each task is saved with the pet in the same write (pets/outbox.py), then pushed to Redis: a pet
saved while Redis is down is still enriched once Redis is back. The list counts (pets/counts.py)
are adjusted, and the change announced to live pages (contracts/events.py), in the same Redis
round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from contracts.events import PET_CREATED, PET_UPDATED, pet_event
from contracts.results import ENRICHED_FIELDS, RESULTS_COLLECTION
from contracts.tasks import CREATED, NORMAL, UPDATED, InvalidTask, parse_task
from ops import roles
from pets import counts, outbox, producer
from pets.models import Pet, new_pet_document, species_key, utc_now


@dataclass(frozen=True)
class PetWrite:
    document: dict  # the pet as stored by the write (its staged task included)
    task_queued: bool | None  # None: the change did not need re-enrichment; False: Redis was down

    @property
    def pet_id(self) -> ObjectId:
        return self.document["_id"]


def pet_create(
    *,
    name: str,
    species: str,
    age: int,
    owner: str,
    vaccinated: bool = False,
    priority: str = NORMAL,
    created_by: int | None = None,
) -> PetWrite:
    """One database write (the pet with its task), then one Redis round trip (the task queued).
    `created_by`: the user's id, who may then cancel its enrichment (pet_cancel)."""
    document = new_pet_document(
        name=name, species=species, age=age, owner=owner, vaccinated=vaccinated, created_by=created_by
    )
    task = outbox.task_for(document, reason=CREATED, priority=priority)
    document |= outbox.outbox_fields(task)
    Pet._get_collection().insert_one(document)
    added = [(1, counts.signatures_of(document["species_key"], vaccinated))]
    event = pet_event(PET_CREATED, str(document["_id"]), document)
    queued = producer.enqueue(task, document["outbox_task"], count_changes=added, event=event)
    return PetWrite(document=document, task_queued=queued)


def pet_update(document: dict, *, priority: str = NORMAL, **changes: object) -> PetWrite | None:
    """Apply `changes` to the stored pet `document` in one write; queue a new task (of `priority`)
    if a field enrichment depends on changed. None when the pet was deleted meanwhile.

    `task_queued` is None when nothing enrichment depends on changed.
    """
    missing = _missing_fields(document)
    document = document | missing
    changed = {field: value for field, value in changes.items() if document[field] != value}
    if not changed:
        return PetWrite(document=document, task_queued=None)
    written: dict[str, object] = {**missing, **changed, "updated_at": utc_now()}
    if "species" in changed:
        written["species_key"] = species_key(str(changed["species"]))
    task = None
    if changed.keys() & ENRICHED_FIELDS:
        task = outbox.task_for(document | written, reason=UPDATED, priority=priority)
        written |= outbox.outbox_fields(task)
    if Pet._get_collection().update_one({"_id": document["_id"]}, {"$set": written}).matched_count == 0:
        return None
    updated = document | written
    before, after = _counted_as(document), _counted_as(updated)
    moved = [(-1, before), (1, after)] if before != after else []
    event = pet_event(PET_UPDATED, str(document["_id"]), updated)
    if task is None:
        producer.announce_change(moved, event)
        return PetWrite(document=updated, task_queued=None)
    queued = producer.enqueue(task, updated["outbox_task"], count_changes=moved, event=event)
    return PetWrite(document=updated, task_queued=queued)


def pet_delete(document: dict, *, by: str = "") -> None:
    """Delete the pet, its result records and its enrichment state, and cancel its pending task
    as pet_cancel does. Its result files stay: they are the workers' record of what was processed
    (remove them from PROCESSED_DIR by hand if you must). A task of the pet already writing its
    result records it after this: that record stays."""
    Pet._get_collection().delete_one({"_id": document["_id"]})
    Pet._get_db()[RESULTS_COLLECTION].delete_many({"pet_id": str(document["_id"])})
    removed = [(-1, _counted_as(document | _missing_fields(document)))]
    producer.forget_pet(
        str(document["_id"]), count_changes=removed, by=f"{by} (pet deleted)", staged_task_id=_staged_task_id(document)
    )


def pet_cancel(document: dict, *, by: str) -> producer.Cancel:
    """Cancel the pet's pending enrichment (pets/producer.py says what each outcome means).
    Raises redis.RedisError when Redis is down: a cancel is never only half recorded."""
    return producer.cancel(str(document["_id"]), by=by, staged_task_id=_staged_task_id(document))


def may_cancel(document: dict, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Who may cancel a pet's enrichment: the user who created the pet, and staff who may act
    (not viewers, ops/roles.py)."""
    created_by = document.get("created_by")
    return (created_by is not None and created_by == user.pk) or roles.can_act(user)


def _staged_task_id(document: dict) -> str | None:
    """The id of the task saved with the pet that the outbox relay has not cleared (pets/outbox.py)."""
    staged = document.get("outbox_task")
    try:
        return parse_task(staged).task_id if staged else None
    except InvalidTask:
        return None


def _missing_fields(document: dict) -> dict:
    """What a pet stored before these fields were always written lacks (the original Pet App's
    documents have no species_key, some no vaccinated): written by its first update."""
    missing: dict[str, object] = {}
    if "vaccinated" not in document:
        missing["vaccinated"] = False
    if "species_key" not in document:
        missing["species_key"] = species_key(document["species"])
    return missing


def _counted_as(document: dict) -> list[str]:
    """The list counts a stored pet is counted in."""
    return counts.signatures_of(document["species_key"], document["vaccinated"])
