"""Reads: one pet by id, the filtered newest-first list, and what the workers found about pets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bson import ObjectId
from django.conf import settings
from mongoengine.queryset import QuerySet
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from contracts.links import article_url, image_url
from contracts.results import latest_results
from contracts.task_status import DONE, FINAL_STATES, TaskStatus
from pets.models import Pet, species_key
from pets.task_queue import enrichment_states


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


def pets_by_ids(pet_ids: list[str]) -> dict[str, Pet]:
    """The pets among `pet_ids` that exist, by id (one query)."""
    valid = [pet_id for pet_id in pet_ids if ObjectId.is_valid(pet_id)]
    return {str(pet.id): pet for pet in Pet.objects(id__in=valid)} if valid else {}


@dataclass(frozen=True)
class PetRow:
    """A pet as the page shows it: its latest result and where its enrichment stands.

    `state` is one of queued, processing, retrying, dead, done, pending (nothing known yet) or
    stale (a result older than the pet's last change, with no news of the new task); `final`
    rows are not polled again.
    """

    pet: Pet
    result: dict | None
    status: TaskStatus | None
    state: str

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def version(self) -> str:
        """Changes whenever what the row shows changes: the page replaces a row only then."""
        return "|".join([self.state, self.status.at if self.status else "", self.result["file"] if self.result else ""])

    @property
    def next_attempt_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.status.next_attempt_at) if self.status else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None


def enrichment_state(result: dict | None, status: TaskStatus | None) -> str:
    if result is not None and result["current"]:
        return DONE
    if status is not None:
        return status.state
    return "stale" if result is not None else "pending"


def pet_rows(pets: list[Pet], processed_dir: Path) -> list[PetRow]:
    """The page's rows for `pets`: one folder scan for results, one Redis read for states."""
    results = enrichment_results(pets, processed_dir)
    states = enrichment_states([str(pet.id) for pet in pets])
    rows = []
    for pet in pets:
        result, status = results.get(str(pet.id)), states.get(str(pet.id))
        rows.append(PetRow(pet, result, status, enrichment_state(result, status)))
    return rows


def database_ping() -> bool:
    return database_problem() is None


def database_problem() -> str | None:
    """Why MongoDB does not answer, in one line (None when it does)."""
    try:
        Pet._get_db().command("ping")
    except PyMongoError as exc:
        return one_line(exc)
    return None


def one_line(exc: Exception) -> str:
    """A driver error without pymongo's topology description (hundreds of characters)."""
    text = str(exc).split(", Timeout: ", 1)[0].split(" (configured timeouts:", 1)[0]
    return " ".join(text.split())[:200]


def database_address() -> str:
    """host:port of the MongoDB in use, never the credentials (for messages)."""
    hosts = parse_uri(settings.MONGODB_URI)["nodelist"]
    return ",".join(f"{host}:{port}" for host, port in hosts)


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
