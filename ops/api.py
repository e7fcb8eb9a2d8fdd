"""`/api/tasks/`: the task history and the operators' actions on tasks, for API clients (JWT).

Staff may read (viewers included); staff who may act (ops/roles.py) may cancel, retry and requeue;
everyone else gets 403. The panel (ops/views.py) does the same through the same services.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.task_status import TASK_STATES
from ops import roles, services
from pets.redis_client import get_redis
from pets.serializers import (
    CancelSerializer,
    ErrorSerializer,
    RequestSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from pets.views import cancel_body
from queue_tools import history
from queue_tools.history import BadCursor, TaskFilter

MAX_LIMIT = 100
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid token"),
    403: OpenApiResponse(ErrorSerializer, description="Not staff, or a viewer asking for an action"),
    503: OpenApiResponse(ErrorSerializer, description="Redis unavailable"),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description=services.UNKNOWN_TASK)}
REFUSED = {409: OpenApiResponse(ErrorSerializer, description="Nothing to do: the task is not in a state for it")}


def require_staff(user: AbstractBaseUser | AnonymousUser, *, acts: bool) -> None:
    if not roles.can_see(user):
        raise PermissionDenied("Staff only")
    if acts and not roles.can_act(user):
        raise PermissionDenied("Read-only: viewers cannot change tasks")


class TaskFilterSerializer(RequestSerializer):
    """The filters of a task search, and of a bulk requeue."""

    pet_id = StrictCharField(required=False, max_length=64, help_text="The pet's id.")
    name = StrictCharField(required=False, max_length=100, help_text="The pet's name (any case).")
    species = StrictCharField(required=False, max_length=50, help_text="The species (any case).")
    state = serializers.ChoiceField(choices=TASK_STATES, required=False, help_text="The task's state now.")
    consumer = StrictCharField(required=False, max_length=100, help_text="A consumer that took it, e.g. Consumer-2.")
    since = serializers.DateTimeField(required=False, help_text="Queued at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Queued at or before (ISO 8601).")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise ValidationError({"until": ["must not be before since"]})
        return attrs

    def task_filter(self) -> TaskFilter:
        return TaskFilter(**self.validated_data)


class TaskQuerySerializer(TaskFilterSerializer):
    cursor = StrictCharField(required=False, max_length=200, help_text="`next_cursor` of the previous page.")
    limit = StrictIntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=20)

    def task_filter(self) -> TaskFilter:
        data = {key: value for key, value in self.validated_data.items() if key not in ("cursor", "limit")}
        return TaskFilter(**data)


class TaskStepSerializer(serializers.Serializer):
    at = serializers.CharField()
    event = serializers.CharField(help_text="queued, taken, retrying, done, dead, cancelled, requeued...")
    consumer = serializers.CharField(required=False)
    by = serializers.CharField(required=False, help_text="Who cancelled or requeued it.")
    error = serializers.CharField(required=False)
    file = serializers.CharField(required=False)
    next_attempt_at = serializers.CharField(required=False)


class TaskEntrySerializer(serializers.Serializer):
    task_id = serializers.CharField()
    pet_id = serializers.CharField()
    name = serializers.CharField()
    species = serializers.CharField()
    state = serializers.CharField()
    queued_at = serializers.CharField()
    updated_at = serializers.CharField()
    priority = serializers.CharField()
    reason = serializers.CharField()
    attempts = serializers.IntegerField()
    consumers = serializers.ListField(child=serializers.CharField())
    file = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    events = TaskStepSerializer(many=True)


class TaskPageSerializer(serializers.Serializer):
    results = TaskEntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for older tasks.")
    exhausted = serializers.BooleanField(
        help_text="false: the page stopped at its scan budget before it was full; the cursor goes on from there."
    )
    scanned = serializers.IntegerField(help_text="Tasks looked at for this page.")


class RequeueDeadSerializer(TaskFilterSerializer):
    state = None  # type: ignore[assignment]  # DRF removes an inherited field set to None: always the dead ones
    dry_run = StrictBooleanField(required=False, default=False, help_text="Only count what would be requeued.")
    expected_count = StrictIntegerField(
        required=False, min_value=0, help_text="The count a dry run gave: refused (409) if it changed since."
    )


class RequeueDeadResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Dead tasks matching the filter.")
    requeued = serializers.IntegerField()


class TaskListView(APIView):
    @extend_schema(
        parameters=[TaskQuerySerializer],
        responses={200: TaskPageSerializer, **ERRORS},
        summary="Search the task history, newest first",
    )
    def get(self, request: Request) -> Response:
        require_staff(request.user, acts=False)
        query = TaskQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            page = history.search(
                get_redis(),
                query.task_filter(),
                limit=query.validated_data["limit"],
                cursor=query.validated_data.get("cursor"),
            )
        except BadCursor as exc:
            raise ValidationError({"cursor": [str(exc)]}) from None
        return Response(
            {
                "results": [entry.to_dict() for entry in page.entries],
                "next_cursor": page.next_cursor,
                "exhausted": page.exhausted,
                "scanned": page.scanned,
            }
        )


def task_or_404(task_id: str) -> history.HistoryEntry:
    entry = history.get(get_redis(), task_id)
    if entry is None:
        raise NotFound(services.UNKNOWN_TASK)
    return entry


class TaskDetailView(APIView):
    @extend_schema(responses={200: TaskEntrySerializer, **ERRORS, **NOT_FOUND}, summary="One task's history")
    def get(self, request: Request, task_id: str) -> Response:
        require_staff(request.user, acts=False)
        return Response(task_or_404(task_id).to_dict())


class TaskCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: CancelSerializer, 202: CancelSerializer, **ERRORS, **NOT_FOUND, 409: CancelSerializer},
        summary="Cancel a task (its pet's current one)",
    )
    def post(self, request: Request, task_id: str) -> Response:
        require_staff(request.user, acts=True)
        cancel = services.cancel_task(get_redis(), who=who(request), entry=task_or_404(task_id))
        if isinstance(cancel, services.Refused):
            return Response({"error": cancel.why, "status": "superseded", "task_id": task_id}, status=409)
        return Response(*cancel_body(cancel))


class TaskRetryView(APIView):
    @extend_schema(
        request=None,
        responses={200: RequeueDeadResultSerializer, **ERRORS, **NOT_FOUND, **REFUSED},
        summary="Retry a dead task: requeue it with a fresh set of attempts",
    )
    def post(self, request: Request, task_id: str) -> Response:
        require_staff(request.user, acts=True)
        moved = services.retry_task(get_redis(), who=who(request), entry=task_or_404(task_id))
        if isinstance(moved, services.Refused):
            return Response({"error": moved.why}, status=status.HTTP_409_CONFLICT)
        return Response({"count": moved, "requeued": moved})


class RequeueDeadView(APIView):
    @extend_schema(
        request=RequeueDeadSerializer,
        responses={200: RequeueDeadResultSerializer, **ERRORS, **REFUSED},
        summary="Requeue every dead task matching a filter (count it first with dry_run)",
    )
    def post(self, request: Request) -> Response:
        require_staff(request.user, acts=True)
        data = RequeueDeadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filters = {k: v for k, v in data.validated_data.items() if k not in ("dry_run", "expected_count")}
        task_filter = TaskFilter(**filters)
        if task_filter.empty:
            raise ValidationError({"filter": ["a filter is required: an empty one would requeue every dead task"]})
        client = get_redis()
        count = services.count_dead(client, task_filter)
        if data.validated_data["dry_run"]:
            return Response({"count": count, "requeued": 0})
        expected = data.validated_data.get("expected_count")
        if expected is None:
            raise ValidationError({"expected_count": ["required: the count a dry run gave, as the confirmation"]})
        if expected != count:
            return Response(
                {"error": f"{count} dead tasks match now, not {expected}: count again", "count": count},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            {"count": count, "requeued": services.requeue_dead(client, who=who(request), task_filter=task_filter)}
        )


def who(request: Request) -> str:
    return f"{request.user.get_username()} (api)"
