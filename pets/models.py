"""The MongoEngine `Pet` document: collection `pet` of `pets_database` (existing data stays readable)."""

from __future__ import annotations

from datetime import UTC, datetime

import mongoengine as me
from bson import ObjectId


def utc_now() -> datetime:
    """Now, in UTC, at the millisecond precision BSON dates keep (so responses match reads)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def species_key(species: str) -> str:
    """The stored, indexed key that makes species filters case-insensitive without a regex."""
    return " ".join(species.split()).casefold()


def new_pet_document(*, name: str, species: str, age: int, owner: str, vaccinated: bool) -> dict:
    """A new pet as `Pet` stores it (the same fields, BSON types and `species_key`), to insert
    without a MongoEngine document: building, validating and converting one cost a create more CPU
    than its insert. The values come validated by PetInputSerializer, to the same limits as `Pet`'s
    fields; tests/unit/test_pets_services.py checks the two shapes agree."""
    now = utc_now()
    return {
        "_id": ObjectId(),
        "name": name,
        "species": species,
        "species_key": species_key(species),
        "age": age,
        "owner": owner,
        "vaccinated": vaccinated,
        "created_at": now,
        "updated_at": now,
    }


class Pet(me.Document):
    name = me.StringField(required=True, min_length=1, max_length=100)
    species = me.StringField(required=True, min_length=1, max_length=50)
    species_key = me.StringField(required=True)
    age = me.IntField(required=True, min_value=0, max_value=100)
    owner = me.StringField(required=True, min_length=1, max_length=100)
    vaccinated = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=utc_now)
    updated_at = me.DateTimeField(default=utc_now)
    # Transactional outbox (pets/outbox.py): the enrichment task saved with the pet, kept until
    # Redis has accepted it, and when the relay may (re)send it.
    outbox_task = me.StringField()
    outbox_due_at = me.DateTimeField()

    meta = {
        "collection": "pet",
        # Indexes are made once, by `manage.py ensure_indexes` before the API serves, never lazily
        # by request threads: concurrent first-use creation stalls SecantusDB 0.7.0b3 (tests/
        # test_deploy.py) and is wasted round trips on MongoDB.
        "auto_create_index": False,
        # Serve the list query: optional species and vaccinated filters, newest first.
        "indexes": [
            ("species_key", "vaccinated", "-created_at"),
            ("species_key", "-created_at"),
            ("vaccinated", "-created_at"),
            "-created_at",
            "outbox_due_at",
        ],
    }

    def clean(self) -> None:
        self.species_key = species_key(self.species or "")

    def __str__(self) -> str:
        return f"{self.name} ({self.species})"
