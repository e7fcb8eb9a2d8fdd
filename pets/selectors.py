"""Reads: one pet by id, and the filtered, newest-first list."""

from __future__ import annotations

from bson import ObjectId
from mongoengine.queryset import QuerySet
from pymongo.errors import PyMongoError

from pets.models import Pet, species_key


def pet_get(pet_id: str) -> Pet | None:
    """The pet with this id, or None for an unknown or malformed id."""
    if not ObjectId.is_valid(pet_id):
        return None
    return Pet.objects(id=pet_id).first()


def pet_list(*, species: str | None = None, vaccinated: bool | None = None) -> QuerySet:
    """Pets newest first (id breaks ties, so pages never overlap), filtered on indexed keys."""
    filters: dict[str, object] = {}
    if species:
        filters["species_key"] = species_key(species)
    if vaccinated is not None:
        filters["vaccinated"] = vaccinated
    return Pet.objects(**filters).order_by("-created_at", "-id")


def database_ping() -> bool:
    try:
        Pet._get_db().command("ping")
    except PyMongoError:
        return False
    return True
