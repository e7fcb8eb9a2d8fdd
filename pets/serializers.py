"""Input validation and output shapes of the pets API.

The fields are strict on purpose: JSON types are not coerced (`"age": true`, `"age": 3.7`,
`"name": 123`, `{"$gt": ""}` are all rejected), so what is stored is exactly what was meant.
"""

from __future__ import annotations

import re

from rest_framework import serializers

from contracts.task_status import QUEUED, TASK_STATES
from contracts.tasks import PRIORITIES
from pets.models import AGE_MAX, AGE_MIN, NAME_MAX_LENGTH, OWNER_MAX_LENGTH, SPECIES_MAX_LENGTH
from pets.pagination import Cursor, InvalidCursor

# ASCII digits only: str.isdigit() and \d accept "²" or "٣", which int() refuses or misreads.
INTEGER_STRING = re.compile(r"^\s*[0-9]{1,9}\s*$")
# Unicode's control characters (category Cc): C0, DEL and C1, exactly. One search in C instead of
# unicodedata.category() per character (2 % of a create's CPU).
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


class StrictCharField(serializers.CharField):
    """A string and only a string (DRF's CharField would turn 123 into "123"), without control
    characters (no NUL, escape sequences or line breaks in a name); any other Unicode is welcome."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if CONTROL_CHARACTER.search(data):
            raise serializers.ValidationError("Must not contain control characters.")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, or a string of digits; never a boolean, a float or "3.0"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and INTEGER_STRING.match(data))
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true`/`false` (JSON booleans, or those two words as strings)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip().lower() in {"true", "false"}:
            return data.strip().lower() == "true"
        self.fail("invalid")


READ_ONLY_FIELDS = {"id", "created_at", "updated_at", "enrichment_status"}  # sent back: ignored


class RequestSerializer(serializers.Serializer):
    """A serializer made on every request, whose fields are copies of the declared ones.

    DRF gives each serializer instance its own fields (binding sets a field's name and parent) by
    deep-copying the declared ones, which builds each field again, validators and error messages
    included (8 % of a POST's CPU in py-spy). Validating changes none of those, so each instance
    here gets a shallow copy of every declared field instead: its own object to bind, sharing the
    read-only parts (validators, messages, choices) with the declared field, which is never bound.
    A PetInputSerializer's validation went from 167 to 79 µs in process. The subclasses' fields
    must keep to that: no validator that keeps state between calls.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = {}
        for name, declared in self._declared_fields.items():
            field = object.__new__(type(declared))
            field.__dict__.update(declared.__dict__)
            fields[name] = field
        return fields


class PetInputSerializer(RequestSerializer):
    """A pet as a client sends it (POST: all required but `vaccinated`; PUT/PATCH: any subset)."""

    name = StrictCharField(max_length=NAME_MAX_LENGTH)
    species = StrictCharField(max_length=SPECIES_MAX_LENGTH)
    age = StrictIntegerField(min_value=AGE_MIN, max_value=AGE_MAX)
    owner = StrictCharField(max_length=OWNER_MAX_LENGTH)
    vaccinated = StrictBooleanField(default=False)
    priority = serializers.ChoiceField(
        choices=PRIORITIES,
        required=False,
        help_text="Of the enrichment task this write queues (not stored with the pet); `normal` when left out.",
    )

    def validate(self, attrs: dict) -> dict:
        if not isinstance(self.initial_data, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        unknown = set(self.initial_data) - set(self.fields) - READ_ONLY_FIELDS
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in sorted(unknown)})
        if self.partial and not attrs:
            raise serializers.ValidationError(f"Send at least one of: {', '.join(self.fields)}.")
        return attrs


class PetOutputSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField()
    species = serializers.CharField()
    age = serializers.IntegerField()
    owner = serializers.CharField()
    vaccinated = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    enrichment_status = serializers.ChoiceField(
        choices=TASK_STATES,
        allow_null=True,
        help_text="Where the pet's latest enrichment task stands; null when the queue does not know "
        "(Redis unreachable, or the task still waits in the outbox). "
        "`GET /api/pets/<id>/enrichment/` has the result itself.",
    )


def pet_output(document: dict) -> dict:
    """A pet's stored document as the API, the page and the events show it (the one output
    function): PetOutputSerializer's fields, built directly (a serializer instance per pet costs
    more than the rest of a list request). The datetimes stay datetimes: the renderer writes them
    as DRF would, ISO 8601 with `Z` (pets/renderers.py)."""
    return {
        "id": str(document["_id"]),
        "name": document["name"],
        "species": document["species"],
        "age": document["age"],
        "owner": document["owner"],
        "vaccinated": document.get("vaccinated", False),
        "created_at": document["created_at"],
        "updated_at": document["updated_at"],
    }


class PetListQuerySerializer(RequestSerializer):
    species = StrictCharField(
        required=False, allow_blank=True, max_length=SPECIES_MAX_LENGTH, help_text="Case-insensitive species match."
    )
    vaccinated = serializers.ChoiceField(
        choices=("true", "false"), required=False, help_text="`true` or `false`; anything else is a 400."
    )
    limit = StrictIntegerField(required=False, min_value=1, max_value=500, default=100)
    cursor = StrictCharField(
        required=False, max_length=200, help_text="Where the next page starts: the `cursor` of a `Link: rel=next` URL."
    )
    offset = StrictIntegerField(
        required=False, min_value=0, max_value=10_000_000, default=0, help_text="Deprecated: use `cursor`."
    )

    def validate_cursor(self, value: str) -> Cursor | None:
        """The opaque cursor, decoded (a 400 naming `cursor` if it is not one a Link gave)."""
        try:
            return Cursor.decode(value) if value else None
        except InvalidCursor as exc:
            raise serializers.ValidationError(str(exc)) from None


QUEUED_INFO = "Task sent to workers for processing. Enriched data will be generated."


class PetCreatedSerializer(serializers.Serializer):
    """The 201 body of a create (pet_created_body builds it)."""

    message = serializers.CharField()
    pet = PetOutputSerializer()
    task_queued = serializers.BooleanField(help_text="false: Redis was down; the task is queued once it is back.")
    info = serializers.CharField(required=False, help_text="Present when the task was queued.")


class PetUpdatedSerializer(serializers.Serializer):
    """The 200 body of an update (pet_updated_body builds it)."""

    message = serializers.CharField()
    pet = PetOutputSerializer()
    task_queued = serializers.BooleanField(required=False, help_text="Present when the change is re-enriched.")


# The bodies are built as plain dicts with the serializers' fields (tests/unit check they agree):
# DRF's `.data` of a nested serializer costs more than the rest of a create.
def pet_created_body(document: dict, *, task_queued: bool) -> dict:
    """The 201 body of a create, from the document it stored (pets/services.pet_create)."""
    shown = pet_output(document) | {"enrichment_status": QUEUED if task_queued else None}
    body = {"message": "Pet created successfully", "pet": shown, "task_queued": bool(task_queued)}
    if task_queued:
        body["info"] = QUEUED_INFO
    return body


def pet_updated_body(document: dict, *, task_queued: bool | None, enrichment_status: str | None) -> dict:
    """The 200 body of an update, from the document as the update left it."""
    shown = pet_output(document) | {"enrichment_status": enrichment_status}
    body: dict[str, object] = {"message": "Pet updated successfully", "pet": shown}
    if task_queued is not None:
        body["task_queued"] = task_queued
    return body


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    # The body's `fields` key; DRF's metaclass moves declared fields off the class, so the
    # serializer's own `fields` property is untouched.
    fields = serializers.DictField(  # type: ignore[assignment]
        required=False, child=serializers.ListField(child=serializers.CharField())
    )


class RedisStatsSerializer(serializers.Serializer):
    queue_name = serializers.CharField()
    pending_tasks = serializers.IntegerField()
    pending_by_priority = serializers.DictField(
        child=serializers.IntegerField(), help_text="Pending tasks by priority: high, normal, low."
    )
    processing_tasks = serializers.IntegerField()
    delayed_tasks = serializers.IntegerField(help_text="Waiting for a retry after a transient failure.")
    dead_letter_tasks = serializers.IntegerField()
    live_consumers = serializers.ListField(
        child=serializers.CharField(), help_text="Consumers whose heartbeat is current."
    )
    redis_host = serializers.CharField()
    redis_port = serializers.IntegerField()
    connected_clients = serializers.IntegerField()
    total_commands_processed = serializers.IntegerField()
    redis_version = serializers.CharField()
    uptime_in_seconds = serializers.IntegerField()
    used_memory_human = serializers.CharField()


class EnrichmentSerializer(serializers.Serializer):
    """`GET /api/pets/<id>/enrichment/`: the pet's newest result (contracts/results.ResultRecord)."""

    status = serializers.ChoiceField(
        choices=[*TASK_STATES, "stale"],
        help_text="Where the pet's enrichment stands: `done` when this result matches the pet as it is now.",
    )
    task_id = serializers.CharField()
    pet_id = serializers.CharField()
    file = serializers.CharField(help_text="The enriched JSON file's name in PROCESSED_DIR.")
    consumer = serializers.CharField()
    processed_at = serializers.DateTimeField()
    enqueued_at = serializers.DateTimeField()
    attempt = serializers.IntegerField()
    species = serializers.CharField()
    age = serializers.IntegerField()
    vaccinated = serializers.BooleanField()
    wikipedia_status = serializers.ChoiceField(choices=["found", "not_found", "disambiguation"])
    extract = serializers.CharField(allow_null=True)
    wikipedia_url = serializers.URLField(allow_null=True)
    thumbnail = serializers.URLField(allow_null=True)
    species_facts = serializers.DictField(child=serializers.CharField())
    health_tips = serializers.ListField(child=serializers.CharField())
    age_category = serializers.CharField()


class EnrichmentMissingSerializer(serializers.Serializer):
    error = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["queued", "processing", "retrying", "dead", "cancelled"], required=False, help_text="When it is known."
    )


class CancelSerializer(serializers.Serializer):
    """The answer to a cancel (pets/views.cancel_body builds it)."""

    message = serializers.CharField(required=False, help_text="When something was cancelled.")
    error = serializers.CharField(required=False, help_text="When nothing was: why.")
    status = serializers.ChoiceField(
        choices=["cancelled", "cancelling", "none", "done", "dead", "cancelled_before", "writing", "superseded"],
        help_text="`cancelled`: it will never run. `cancelling`: a consumer has it and stops before writing. "
        "The others say why nothing was done (`superseded`: not the pet's current task).",
    )
    task_id = serializers.CharField(allow_null=True)
