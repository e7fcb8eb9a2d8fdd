"""Reads: one pet by id, the filtered newest-first list, and what the workers found about pets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from django.conf import settings
from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

from contracts.links import article_url, image_url
from contracts.results import RESULTS_COLLECTION, ResultRecord
from contracts.task_status import DONE, FINAL_STATES, TaskStatus
from pets import counts
from pets.models import Pet, species_key
from pets.pagination import PROJECTION, Cursor, keyset_page, offset_page
from pets.producer import enrichment_states
from pets.serializers import pet_output


def pet_get(pet_id: str) -> dict | None:
    """The stored document of the pet with this id, or None for an unknown or malformed id."""
    if not ObjectId.is_valid(pet_id):
        return None
    return Pet._get_collection().find_one({"_id": ObjectId(pet_id)})


def pet_filters(*, species: str | None = None, vaccinated: bool | None = None) -> dict:
    """The list query's filters, on indexed keys only (never a regex)."""
    filters: dict[str, object] = {}
    if species:
        filters["species_key"] = species_key(species)
    if vaccinated is not None:
        filters["vaccinated"] = vaccinated
    return filters


@dataclass(frozen=True)
class PetPage:
    pets: list[dict]  # output form (pet_output)
    next_cursor: Cursor | None
    total: int


def pet_page(
    *,
    species: str | None = None,
    vaccinated: bool | None = None,
    limit: int = 100,
    cursor: Cursor | None = None,
    offset: int = 0,
) -> PetPage:
    """One page of pets, newest first, and the total: work bounded by `limit`, not by the number
    of pets (pets/pagination.py; `offset` alone, for compatibility, costs O(offset))."""
    filters = pet_filters(species=species, vaccinated=vaccinated)
    if offset and cursor is None:
        documents = offset_page(filters, limit=limit + 1, offset=offset)
        next_cursor = Cursor.after(documents[limit - 1]) if len(documents) > limit else None
        documents = documents[:limit]
    else:
        documents, next_cursor = keyset_page(filters, limit=limit, after=cursor)
    total = counts.count(filters.get("species_key"), vaccinated, lambda: Pet._get_collection().count_documents(filters))
    return PetPage([pet_output(document) for document in documents], next_cursor, total)


def pets_by_ids(pet_ids: list[str]) -> dict[str, dict]:
    """The pets among `pet_ids` that exist, by id, in output form (one query)."""
    valid = [ObjectId(pet_id) for pet_id in pet_ids if ObjectId.is_valid(pet_id)]
    if not valid:
        return {}
    found = Pet._get_collection().find({"_id": {"$in": valid}}, PROJECTION).batch_size(len(valid))
    return {str(doc["_id"]): pet_output(doc) for doc in found}


@dataclass(frozen=True)
class PetRow:
    """A pet as the page shows it: its latest result and where its enrichment stands.

    `state` is one of queued, processing, retrying, dead, done, pending (nothing known yet) or
    stale (a result older than the pet's last change, with no news of the new task); `final`
    rows are not polled again.
    """

    pet: dict  # output form (pet_output)
    result: ResultRecord | None
    status: TaskStatus | None
    state: str

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def version(self) -> str:
        """Changes whenever what the row shows changes: the page replaces a row only then."""
        return "|".join([self.state, self.status.at if self.status else "", self.result.file if self.result else ""])

    @property
    def wikipedia_url(self) -> str | None:
        """Only https links to Wikipedia and its image host reach the page (contracts/links.py)."""
        return article_url(self.result.wikipedia_url) if self.result else None

    @property
    def thumbnail(self) -> str | None:
        return image_url(self.result.thumbnail) if self.result else None

    @property
    def next_attempt_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.status.next_attempt_at) if self.status else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None


def enrichment_state(pet: dict, result: ResultRecord | None, status: TaskStatus | None) -> str:
    """`pet` in output form (or any mapping with the fields a result depends on)."""
    if result is not None and result.is_current_for(pet):
        return DONE
    if status is not None:
        return status.state
    return "stale" if result is not None else "pending"


def with_enrichment_status(pets: list[dict]) -> list[dict]:
    """The pets (output form), each with `enrichment_status`: where its latest task stands, or None
    when the queue does not know. One HMGET for them all, whatever their number."""
    states = enrichment_states([pet["id"] for pet in pets])
    for pet in pets:
        status = states.get(pet["id"])
        pet["enrichment_status"] = status.state if status else None
    return pets


def enrichment_status_of(pet_id: str) -> str | None:
    status = enrichment_states([pet_id]).get(pet_id)
    return status.state if status else None


def pet_rows(pets: list[dict]) -> list[PetRow]:
    """The page's rows for `pets` (output form): one query for their results, one Redis read for
    their states."""
    pet_ids = [pet["id"] for pet in pets]
    results, states = latest_results(pet_ids), enrichment_states(pet_ids)
    rows = []
    for pet in pets:
        result, status = results.get(pet["id"]), states.get(pet["id"])
        rows.append(PetRow(pet, result, status, enrichment_state(pet, result, status)))
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


RESULTS_BATCH = 1000


def latest_results(pet_ids: list[str]) -> dict[str, ResultRecord]:
    """The newest result record of each of these pets, by pet id: one query on the pet_id index
    for their records (a few per pet), the newest picked here; never a folder listing."""
    if not pet_ids:
        return {}
    found: dict[str, ResultRecord] = {}
    # One batch for a page's records: past the default first batch (101), a getMore per batch.
    records = Pet._get_db()[RESULTS_COLLECTION].find({"pet_id": {"$in": pet_ids}}).batch_size(RESULTS_BATCH)
    for document in records:
        record = ResultRecord.from_document(document)
        if record is not None and (record.pet_id not in found or record.enqueued_at > found[record.pet_id].enqueued_at):
            found[record.pet_id] = record
    return found


def latest_result(pet_id: str) -> ResultRecord | None:
    """The pet's newest result record, or None when no worker has finished one yet."""
    document = Pet._get_db()[RESULTS_COLLECTION].find_one({"pet_id": pet_id}, sort=[("enqueued_at", -1)])
    return ResultRecord.from_document(document) if document else None
