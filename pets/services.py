"""Writes: create, update and delete pets, queueing enrichment where its inputs change.

Each task is saved with the pet in the same write (pets/outbox.py), then pushed to Redis: a pet
saved while Redis is down is still enriched once Redis is back. The list counts (pets/counts.py)
are adjusted, and the change announced to live pages (contracts/events.py), in the same Redis
round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId

from contracts.events import PET_CREATED, PET_UPDATED, pet_event
from contracts.results import ENRICHED_FIELDS
from contracts.tasks import NORMAL, build_task
from pets import counts, outbox, producer
from pets.models import Pet, new_pet_document, utc_now


@dataclass(frozen=True)
class PetCreated:
    document: dict  # the pet as stored (pets/models.new_pet_document), its staged task included
    task_queued: bool

    @property
    def pet_id(self) -> ObjectId:
        return self.document["_id"]


@dataclass(frozen=True)
class PetWrite:
    pet: Pet
    task_queued: bool | None  # None: the change did not need re-enrichment


def pet_create(
    *, name: str, species: str, age: int, owner: str, vaccinated: bool = False, priority: str = NORMAL
) -> PetCreated:
    """One database write (the pet with its task), then one Redis round trip (the task queued).

    The pet is inserted as a plain document in `Pet`'s shape, not through a MongoEngine `Pet`: the
    hottest write of the API, and the document object cost it more than the insert itself.
    """
    document = new_pet_document(name=name, species=species, age=age, owner=owner, vaccinated=vaccinated)
    task = build_task(pet_id=str(document["_id"]), name=name, species=species, age=age, owner=owner,
                      vaccinated=vaccinated, reason="created", priority=priority)  # fmt: skip
    document |= outbox.outbox_fields(task)
    Pet._get_collection().insert_one(document)
    added = [(1, counts.signatures_of(document["species_key"], vaccinated))]
    event = pet_event(PET_CREATED, str(document["_id"]), document)
    queued = producer.enqueue(task, document["outbox_task"], count_changes=added, event=event)
    return PetCreated(document=document, task_queued=queued)


def pet_update(pet: Pet, *, priority: str = NORMAL, **changes: object) -> PetWrite:
    """Apply `changes`; queue a new task (of `priority`) if a field enrichment depends on changed.

    `task_queued` is None when nothing enrichment depends on changed.
    """
    changed = {field for field, value in changes.items() if getattr(pet, field) != value}
    before = counts.signatures_of(pet.species_key, pet.vaccinated)
    for field, value in changes.items():
        setattr(pet, field, value)
    if not changed:
        return PetWrite(pet=pet, task_queued=None)
    pet.updated_at = utc_now()
    reenrich = bool(changed.intersection(ENRICHED_FIELDS))
    task = outbox.stage_task(pet, reason="updated", priority=priority) if reenrich else None
    payload = pet.outbox_task
    pet.save()  # validates and sets species_key (Pet.clean)
    after = counts.signatures_of(pet.species_key, pet.vaccinated)
    moved = [(-1, before), (1, after)] if before != after else []
    event = pet_event(PET_UPDATED, str(pet.id), pet)
    if task is None:
        producer.announce_change(moved, event)
        return PetWrite(pet=pet, task_queued=None)
    return PetWrite(pet=pet, task_queued=producer.enqueue(task, payload, count_changes=moved, event=event))


def pet_delete(pet: Pet) -> None:
    """Delete the pet and its enrichment state. Its result files stay: they are the workers'
    record of what was processed (remove them from PROCESSED_DIR by hand if you must)."""
    pet.delete()
    producer.forget_pet(str(pet.id), count_changes=[(-1, counts.signatures_of(pet.species_key, pet.vaccinated))])
