"""The JSON API, for its clients (JWT bearer tokens): thin views that validate with serializers,
call services and selectors, and answer with the bodies their serializers document.

Errors are not handled here: pets/errors.py turns them into JSON (400, 401, 404, 503...).
The public HTML page is pets/page.py; the health checks are pets/health.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.task_status import QUEUED
from pets import idempotency, selectors, services
from pets.pagination import pagination_headers
from pets.producer import Cancel, enrichment_states, queue_stats
from pets.renderers import FastJSONRenderer
from pets.serializers import (
    CancelSerializer,
    EnrichmentMissingSerializer,
    EnrichmentSerializer,
    ErrorSerializer,
    MessageSerializer,
    PetCreatedSerializer,
    PetInputSerializer,
    PetListQuerySerializer,
    PetOutputSerializer,
    PetUpdatedSerializer,
    RedisStatsSerializer,
    pet_created_body,
    pet_output,
    pet_updated_body,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token"),
    503: OpenApiResponse(ErrorSerializer, description="Database unavailable"),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Pet not found")}
JSON = FastJSONRenderer()


class PetCollectionView(APIView):
    @extend_schema(
        parameters=[PetListQuerySerializer],
        responses={200: PetOutputSerializer(many=True), **ERRORS},
        summary="List pets, newest first",
    )
    def get(self, request: Request) -> Response:
        query = PetListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        vaccinated = params.get("vaccinated")
        page = selectors.pet_page(
            species=params.get("species"),
            vaccinated=None if vaccinated is None else vaccinated == "true",
            limit=params["limit"],
            cursor=params.get("cursor"),
            offset=params["offset"],
        )
        headers = pagination_headers(request, next_cursor=page.next_cursor, total=page.total)
        return Response(selectors.with_enrichment_status(page.pets), headers=headers)

    @extend_schema(
        request=PetInputSerializer,
        parameters=[
            OpenApiParameter(
                idempotency.HEADER,
                str,
                OpenApiParameter.HEADER,
                description="1 to 255 printable ASCII characters. A retry with the same key and body within "
                "24 h gets the first answer again (with `Idempotent-Replayed: true`) and creates nothing.",
                pattern=r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$",
            )
        ],
        responses={
            201: PetCreatedSerializer,
            **ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="A request with this Idempotency-Key is in progress"),
            422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with another body"),
        },
        summary="Create a pet and queue its enrichment",
    )
    def post(self, request: Request) -> HttpResponse:
        data = PetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = idempotency.key_from(request.META)

        def create() -> idempotency.Answer:
            created = services.pet_create(**data.validated_data, created_by=request.user.pk)
            body = pet_created_body(created.document, task_queued=bool(created.task_queued))
            return idempotency.Answer(status.HTTP_201_CREATED, JSON.render(body))

        # Rendered here, once, with or without a key (a replay sends these bytes again), and sent
        # as a plain response: DRF's Response would build it empty, then render the body again.
        answer = create() if key is None else idempotency.once(request.user.pk, key, request.data, create)
        response = HttpResponse(answer.body, status=answer.status, content_type=JSON.media_type)
        if answer.replayed:
            response[idempotency.REPLAYED_HEADER] = "true"
        return response


def get_pet_or_404(pet_id: str) -> dict:
    """The pet's stored document (pets/selectors.py), or a 404."""
    document = selectors.pet_get(pet_id)
    if document is None:
        raise NotFound("Pet not found")
    return document


class PetDetailView(APIView):
    @extend_schema(responses={200: PetOutputSerializer, **ERRORS, **NOT_FOUND}, summary="Get a pet")
    def get(self, request: Request, pet_id: str) -> Response:
        [pet] = selectors.with_enrichment_status([pet_output(get_pet_or_404(pet_id))])
        return Response(pet)

    @extend_schema(
        request=PetInputSerializer(partial=True),
        responses={200: PetUpdatedSerializer, **ERRORS, **NOT_FOUND},
        summary="Update a pet (any subset of its fields)",
    )
    def put(self, request: Request, pet_id: str) -> Response:
        return self._update(request, pet_id)

    @extend_schema(
        request=PetInputSerializer(partial=True),
        responses={200: PetUpdatedSerializer, **ERRORS, **NOT_FOUND},
        summary="Update some fields of a pet",
    )
    def patch(self, request: Request, pet_id: str) -> Response:
        return self._update(request, pet_id)

    def _update(self, request: Request, pet_id: str) -> Response:
        document = get_pet_or_404(pet_id)
        data = PetInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        result = services.pet_update(document, **data.validated_data)
        if result is None:  # deleted between the read and the write
            raise NotFound("Pet not found")
        if result.task_queued is None:  # nothing re-enriched: the earlier task's state stands
            status = selectors.enrichment_status_of(pet_id)
        else:  # queued now, or Redis down (the outbox queues it later)
            status = QUEUED if result.task_queued else None
        return Response(pet_updated_body(result.document, task_queued=result.task_queued, enrichment_status=status))

    @extend_schema(responses={200: MessageSerializer, **ERRORS, **NOT_FOUND}, summary="Delete a pet")
    def delete(self, request: Request, pet_id: str) -> Response:
        services.pet_delete(get_pet_or_404(pet_id), by=request.user.get_username())
        return Response({"message": "Pet deleted successfully"})


CANCEL_REFUSED = {
    "none": "The pet has no enrichment task to cancel",
    "done": "The enrichment is already done",
    "dead": "The enrichment already failed for good (an operator can retry it)",
    "cancelled_before": "The enrichment is already cancelled",
    "writing": "The enrichment is writing its result: too late to cancel",
}


class PetCancelView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(CancelSerializer, description="Cancelled: the task will never run"),
            202: OpenApiResponse(CancelSerializer, description="A consumer has it: it stops before writing anything"),
            401: ERRORS[401],
            403: OpenApiResponse(ErrorSerializer, description="Neither the pet's creator nor staff who may act"),
            **NOT_FOUND,
            409: OpenApiResponse(CancelSerializer, description="Nothing to cancel: done, failed, cancelled or writing"),
            503: OpenApiResponse(ErrorSerializer, description="Database or Redis unavailable"),
        },
        summary="Cancel the pet's pending enrichment",
    )
    def post(self, request: Request, pet_id: str) -> Response:
        document = get_pet_or_404(pet_id)
        if not services.may_cancel(document, request.user):
            raise PermissionDenied("Only the user who created the pet, or staff, may cancel its enrichment")
        cancel = services.pet_cancel(document, by=request.user.get_username())
        return Response(*cancel_body(cancel))


def cancel_body(cancel: Cancel) -> tuple[dict, int]:
    """The answer to a cancel, and its status code: 200 cancelled, 202 cancelling, 409 refused."""
    body = {"status": cancel.outcome, "task_id": cancel.task_id}
    if cancel.outcome == "cancelled":
        return {"message": "Enrichment cancelled", **body}, status.HTTP_200_OK
    if cancel.outcome == "cancelling":
        message = "Cancel requested: the consumer processing it stops before writing anything"
        return {"message": message, **body}, status.HTTP_202_ACCEPTED
    return {"error": CANCEL_REFUSED[cancel.outcome], **body}, status.HTTP_409_CONFLICT


class PetEnrichmentView(APIView):
    @extend_schema(
        responses={
            200: EnrichmentSerializer,
            401: ERRORS[401],
            404: OpenApiResponse(EnrichmentMissingSerializer, description="Unknown pet, or no result yet"),
            503: ERRORS[503],
        },
        summary="The pet's newest enrichment result",
    )
    def get(self, request: Request, pet_id: str) -> Response:
        document = get_pet_or_404(pet_id)
        result = selectors.latest_result(pet_id)
        status_entry = enrichment_states([pet_id]).get(pet_id)
        if result is None:
            body = {"error": "No enrichment result yet"}
            if status_entry is not None:
                body["status"] = status_entry.state
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        state = selectors.enrichment_state(pet_output(document), result, status_entry)
        return Response(EnrichmentSerializer({"status": state, **result.to_api()}).data)


class RedisStatsView(APIView):
    @extend_schema(
        responses={
            200: RedisStatsSerializer,
            401: ERRORS[401],
            503: OpenApiResponse(ErrorSerializer, description="Redis unavailable"),
        },
        summary="Queue and Redis statistics",
    )
    def get(self, request: Request) -> Response:
        return Response(queue_stats())  # Redis down: 503 JSON (pets/errors.py)
