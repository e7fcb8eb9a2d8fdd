"""A stored pet: the MongoEngine `Pet` declares collection `pet` of `pets_database` (its fields and
indexes), and the code reads and writes pets as plain documents of that shape, never as `Pet`
instances: one representation, whatever the operation. `new_pet_document` makes one; the limits
below are the one definition of what a field may hold (the model's fields and the input
serializer both use them)."""

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


NAME_MAX_LENGTH = 100
SPECIES_MAX_LENGTH = 50
OWNER_MAX_LENGTH = 100
AGE_MIN, AGE_MAX = 0, 100


def new_pet_document(
    *, name: str, species: str, age: int, owner: str, vaccinated: bool, created_by: int | None = None
) -> dict:
    """A new pet as `Pet` declares it (the same fields, BSON types and `species_key`), inserted
    without a MongoEngine document: building, validating and converting one cost a create more CPU
    than its insert. The values come validated by PetInputSerializer, to the limits above;
    tests/unit/test_pets_services.py checks that `Pet` loads what the writes store."""
    now = utc_now()
    document = {
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
    if created_by is not None:
        document["created_by"] = created_by
    return document


class Pet(me.Document):
    name = me.StringField(required=True, min_length=1, max_length=NAME_MAX_LENGTH)
    species = me.StringField(required=True, min_length=1, max_length=SPECIES_MAX_LENGTH)
    species_key = me.StringField(required=True)
    age = me.IntField(required=True, min_value=AGE_MIN, max_value=AGE_MAX)
    owner = me.StringField(required=True, min_length=1, max_length=OWNER_MAX_LENGTH)
    vaccinated = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=utc_now)
    updated_at = me.DateTimeField(default=utc_now)
    created_by = me.IntField()  # the id of the API user who created it: they may cancel its enrichment
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
