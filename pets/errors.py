"""Every API error is JSON with an `error` string (clients read that key), never an HTML page."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from pymongo.errors import ConnectionFailure
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "Database unavailable, please retry shortly"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with every body in the `{"error": ...}` shape, and the services' outages as 503s.

    Writes never raise a Redis error (a pet saved while Redis is down is queued later by the
    outbox relay); reads of the queue itself, like `/api/redis/stats/`, do.
    """
    if isinstance(exc, ConnectionFailure):  # ServerSelectionTimeoutError is one too
        log.warning("MongoDB unavailable: %s", exc)
        return Response({"error": DATABASE_UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, redis.RedisError):
        log.warning("Redis unavailable: %s", exc)
        return Response({"error": f"Redis unavailable: {exc}"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": "Invalid input", "fields": _as_field_errors(exc.detail)}
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"error": f"Malformed JSON: {exc.detail}"}
    elif isinstance(exc, exceptions.APIException):
        body = {"error": _first_message(exc.detail)}
        if isinstance(response.data, dict) and "code" in response.data:
            body["code"] = response.data["code"]
        response.data = body
    return response


def _as_field_errors(detail: object) -> dict:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _first_message(detail: object) -> str:
    if isinstance(detail, dict):
        # simplejwt says "Given token not valid for any token type" and puts the reason (e.g.
        # "Token is expired") in `messages`: the reason is what a client needs.
        reasons = detail.get("messages")
        if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict) and reasons[0].get("message"):
            return str(reasons[0]["message"])
        detail = detail.get("detail", next(iter(detail.values()), ""))
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "Not found"}, status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        limit_kb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        return JsonResponse({"error": f"Request body too large (limit {limit_kb} KB)"}, status=413)
    return JsonResponse({"error": "Bad request"}, status=400)


def json_csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """A form POST (the operations panel's) without a valid CSRF token: refused, as JSON."""
    return JsonResponse(
        {"error": f"CSRF check failed: {reason or 'no valid token'}. Reload the page and try again."}, status=403
    )
