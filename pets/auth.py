"""Login protection and logout for the JWT endpoints.

Failed logins are counted in Redis per client address and per username, so every API process
shares the counts; past the limit the token endpoint answers 429 with `Retry-After` before it
even checks the password. If Redis is unreachable the guard lets logins through (and logs it):
an outage of the queue must not lock every user out.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from pets.redis_client import get_redis
from pets.serializers import ErrorSerializer, MessageSerializer

log = logging.getLogger(__name__)

FAILURE_KEY_PREFIX = "pets:auth:failures:"


def _failure_keys(client: str, username: str) -> list[tuple[str, int]]:
    return [
        (f"{FAILURE_KEY_PREFIX}client:{client}", settings.LOGIN_MAX_FAILURES_PER_CLIENT),
        (f"{FAILURE_KEY_PREFIX}user:{username.strip().lower()[:150]}", settings.LOGIN_MAX_FAILURES_PER_USER),
    ]


def blocked_for(client: str, username: str) -> int:
    """Seconds until this client or username may try again (0: go ahead)."""
    try:
        keys = _failure_keys(client, username)
        with get_redis().pipeline(transaction=False) as pipe:
            for key, _ in keys:
                pipe.get(key)
                pipe.ttl(key)
            replies = pipe.execute()
    except redis.RedisError as exc:
        log.warning("Login guard unavailable, not throttling: %s", exc)
        return 0
    waits = [
        max(ttl, 1)
        for (_, limit), count, ttl in zip(keys, replies[::2], replies[1::2], strict=True)
        if count is not None and int(count) >= limit
    ]
    return max(waits, default=0)


def record_failure(client: str, username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    try:
        with get_redis().pipeline(transaction=True) as pipe:
            for key, _ in _failure_keys(client, username):
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("Login guard unavailable, failure not counted: %s", exc)


def client_address(request: Request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


class LoginView(TokenObtainPairView):
    """`POST /api/token/`: simplejwt's token pair, behind the failed-login guard."""

    @extend_schema(
        responses={
            200: TokenObtainPairView.serializer_class,
            400: ErrorSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Wrong username or password"),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed logins"),
        }
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        client = client_address(request)
        username = request.data.get("username") if isinstance(request.data, dict) else None
        username = username if isinstance(username, str) else ""
        wait = blocked_for(client, username)
        if wait:
            return Response(
                {"error": f"Too many failed logins. Try again in {wait} seconds."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
            )
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            record_failure(client, username)
            raise


class RefreshView(TokenRefreshView):
    """`POST /api/token/refresh/`: a new access token and, rotated, a new refresh token."""

    @extend_schema(
        responses={
            200: TokenRefreshView.serializer_class,
            400: ErrorSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid, expired or revoked refresh token"),
        }
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutView(TokenBlacklistView):
    """`POST /api/token/logout/` with `{"refresh": ...}`: that refresh token can no longer be used.

    Access tokens are not stored anywhere and stay valid until they expire (JWT_ACCESS_MINUTES).
    """

    @extend_schema(
        responses={
            200: MessageSerializer,
            400: ErrorSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid or already revoked refresh token"),
        }
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        response = super().post(request, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            response.data = {"message": "Logged out"}
        return response
