"""Writes: create, update and delete pets, queueing enrichment where its inputs change."""

from __future__ import annotations

from dataclasses import dataclass

from pets.models import Pet, utc_now
from pets.task_queue import enqueue_enrichment

# What the enriched file depends on beyond the name: a change to one of these is re-enriched.
ENRICHMENT_FIELDS = frozenset({"species", "age", "vaccinated"})


@dataclass(frozen=True)
class PetWrite:
    pet: Pet
    task_queued: bool | None  # None: the change did not need re-enrichment


def pet_create(*, name: str, species: str, age: int, owner: str, vaccinated: bool = False) -> PetWrite:
    pet = Pet(name=name, species=species, age=age, owner=owner, vaccinated=vaccinated)
    pet.save()
    return PetWrite(pet=pet, task_queued=enqueue_enrichment(pet, reason="created"))


def pet_update(pet: Pet, **changes: object) -> PetWrite:
    """Apply `changes`; queue a new task if a field enrichment depends on changed.

    `task_queued` is None when nothing enrichment depends on changed.
    """
    changed = {field for field, value in changes.items() if getattr(pet, field) != value}
    for field, value in changes.items():
        setattr(pet, field, value)
    if changed:
        pet.updated_at = utc_now()
        pet.save()
    task_queued = enqueue_enrichment(pet, reason="updated") if changed & ENRICHMENT_FIELDS else None
    return PetWrite(pet=pet, task_queued=task_queued)


def pet_delete(pet: Pet) -> None:
    pet.delete()
