"""Reads: one pet by id, the filtered newest-first list, and what the workers found about pets."""

from __future__ import annotations

import json
from pathlib import Path

from bson import ObjectId
from mongoengine.queryset import QuerySet
from pymongo.errors import PyMongoError

from contracts.links import article_url, image_url
from contracts.results import latest_results
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


def enrichment_results(pets: list[Pet], processed_dir: Path) -> dict[str, dict]:
    """For each pet with an enriched file, the parts of its latest one worth showing, by pet id."""
    files = latest_results(processed_dir, {str(pet.id) for pet in pets})
    found = {}
    for pet in pets:
        path = files.get(str(pet.id))
        result = _read_result(path, pet) if path else None
        if result:
            found[str(pet.id)] = result
    return found


def _read_result(path: Path, pet: Pet) -> dict | None:
    """A result file is data from outside (Wikipedia): read defensively, None if unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        original = document["original_data"]
        enriched = document["enriched_info"]
        return {
            "file": path.name,
            "processed_by": document["metadata"]["processed_by"],
            # Stale when the pet changed since: species, age or vaccination differ.
            "current": (original.get("species"), original.get("age"), original.get("vaccinated"))
            == (pet.species, pet.age, pet.vaccinated),
            "extract": enriched["wikipedia"].get("wikipedia_extract"),
            # Only https links to Wikipedia and its image host reach the page (contracts/links.py).
            "wikipedia_url": article_url(enriched["wikipedia"].get("wikipedia_url")),
            "thumbnail": image_url(enriched["wikipedia"].get("thumbnail")),
            "facts": enriched["species_facts"],
            "tips": enriched["health_tips"],
            "age_category": document["statistics"]["age_category"],
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
