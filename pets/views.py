"""Thin HTTP views: validate with serializers, call services and selectors, shape the response."""

from __future__ import annotations

import redis
from bson import ObjectId
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from drf_spectacular.utils import OpenApiResponse, extend_schema
from pymongo.errors import ConnectionFailure
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pets import selectors, services
from pets.errors import DATABASE_UNAVAILABLE
from pets.models import Pet
from pets.pagination import pagination_headers
from pets.serializers import (
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
    pet_to_dict,
)
from pets.task_queue import enrichment_states, queue_stats, redis_ping

QUEUED_INFO = "Task sent to workers for processing. Enriched data will be generated."
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token"),
    503: OpenApiResponse(ErrorSerializer, description="Database unavailable"),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Pet not found")}


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
        return Response(page.pets, headers=headers)

    @extend_schema(
        request=PetInputSerializer,
        responses={201: PetCreatedSerializer, **ERRORS},
        summary="Create a pet and queue its enrichment",
    )
    def post(self, request: Request) -> Response:
        data = PetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.pet_create(**data.validated_data)
        body = {
            "message": "Pet created successfully",
            "pet": pet_to_dict(result.pet),
            "task_queued": result.task_queued,
        }
        if result.task_queued:
            body["info"] = QUEUED_INFO
        return Response(body, status=status.HTTP_201_CREATED)


def get_pet_or_404(pet_id: str) -> Pet:
    pet = selectors.pet_get(pet_id)
    if pet is None:
        raise NotFound("Pet not found")
    return pet


class PetDetailView(APIView):
    @extend_schema(responses={200: PetOutputSerializer, **ERRORS, **NOT_FOUND}, summary="Get a pet")
    def get(self, request: Request, pet_id: str) -> Response:
        return Response(pet_to_dict(get_pet_or_404(pet_id)))

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
        pet = get_pet_or_404(pet_id)
        data = PetInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        result = services.pet_update(pet, **data.validated_data)
        body = {"message": "Pet updated successfully", "pet": pet_to_dict(result.pet)}
        if result.task_queued is not None:
            body["task_queued"] = result.task_queued
        return Response(body)

    @extend_schema(responses={200: MessageSerializer, **ERRORS, **NOT_FOUND}, summary="Delete a pet")
    def delete(self, request: Request, pet_id: str) -> Response:
        services.pet_delete(get_pet_or_404(pet_id))
        return Response({"message": "Pet deleted successfully"})


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
        pet = get_pet_or_404(pet_id)
        result = selectors.latest_result(pet_id)
        status_entry = enrichment_states([pet_id]).get(pet_id)
        if result is None:
            body = {"error": "No enrichment result yet"}
            if status_entry is not None:
                body["status"] = status_entry.state
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        state = selectors.enrichment_state(pet_to_dict(pet), result, status_entry)
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
        try:
            return Response(queue_stats())
        except redis.RedisError as exc:
            return Response({"error": f"Redis unavailable: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)


def health_live(request: HttpRequest) -> JsonResponse:
    """`GET /health/`: the process answers (container health checks)."""
    return JsonResponse({"status": "ok"})


def health_ready(request: HttpRequest) -> JsonResponse:
    """`GET /health/ready/`: MongoDB and Redis both answer; 503 naming what does not."""
    checks = {"mongodb": selectors.database_ping(), "redis": redis_ping()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": {k: "ok" if v else "down" for k, v in checks.items()}}
    return JsonResponse(body, status=200 if ready else 503)


PAGE_SIZE = 100


def pets_page(request: HttpRequest) -> HttpResponse:
    """The public HTML list (as the original Pet App's), with each pet's enrichment state and result.

    Pages by cursor, like the API (`?cursor=` from the "Older" link); `?offset=` still works.
    """
    query = PetListQuerySerializer(data={k: v for k, v in request.GET.items() if k in ("offset", "cursor")})
    if not query.is_valid():
        return JsonResponse({"error": "Invalid input", "fields": query.errors}, status=400)
    cursor = query.validated_data.get("cursor")
    try:
        page = selectors.pet_page(limit=PAGE_SIZE, cursor=cursor, offset=query.validated_data["offset"])
        rows = selectors.pet_rows(page.pets)
    except ConnectionFailure:
        return with_content_security_policy(
            render(request, "pets/pets_list.html", {"database_error": DATABASE_UNAVAILABLE}, status=503)
        )
    context = {
        "rows": rows,
        "total": page.total,
        "paged": bool(cursor or query.validated_data["offset"]),
        "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
    }
    return with_content_security_policy(render(request, "pets/pets_list.html", context))


MAX_ROWS_PER_POLL = PAGE_SIZE


def pet_rows(request: HttpRequest) -> JsonResponse:
    """`GET /rows/?ids=a,b`: the page's rows for these pets, rendered, for the page to update in place.

    The page polls it for the rows whose enrichment is not final yet (visible rows only, so at
    most one page's worth). Public, like the page: it shows nothing the page does not.
    """
    ids = [pet_id for pet_id in request.GET.get("ids", "").split(",") if pet_id]
    if not ids or len(ids) > MAX_ROWS_PER_POLL or not all(ObjectId.is_valid(pet_id) for pet_id in ids):
        return JsonResponse({"error": f"ids must be 1 to {MAX_ROWS_PER_POLL} comma-separated pet ids"}, status=400)
    try:
        pets = selectors.pets_by_ids(ids)
        rows = {row.pet["id"]: row for row in selectors.pet_rows(list(pets.values()))}
    except ConnectionFailure:
        return JsonResponse({"error": DATABASE_UNAVAILABLE}, status=503)
    body = []
    for pet_id in ids:
        row = rows.get(pet_id)
        if row is None:
            body.append({"id": pet_id, "deleted": True})
        else:
            html = render_to_string("pets/_pet_row.html", {"row": row}, request=request)
            body.append({"id": pet_id, "state": row.state, "final": row.final, "version": row.version, "html": html})
    return JsonResponse({"rows": body})


# Only this app's own scripts and styles run on the page; images may come from Wikimedia.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: https://upload.wikimedia.org; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def with_content_security_policy(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = PAGE_CSP
    return response
