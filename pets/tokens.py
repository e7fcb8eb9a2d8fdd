"""Login (guarded against guessing), refresh and logout: the JWT endpoints.

Login attempts are counted in Redis per client address and per username, so every API process
shares the counts. An attempt is counted before the password is checked, atomically with the
limit check, and uncounted if it did not fail: past the limit the token endpoint answers 429 with
`Retry-After` without checking the password, however many attempts arrive at once. If Redis is
unreachable the guard lets logins through (and logs it):
an outage of the queue must not lock every user out.
"""

from __future__ import annotations

import hashlib
import logging

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from infra.redis_scripts import redis_script
from pets.redis_client import get_redis
from pets.serializers import ErrorSerializer, MessageSerializer

log = logging.getLogger(__name__)

FAILURE_KEY_PREFIX = "pets:auth:failures:"

# infra/lua/reserve_login_attempt.lua: both counters checked and, if neither is at its limit, this
# attempt counted in both, in one atomic step: N parallel wrong passwords get at most `limit` checks.
RESERVE_ATTEMPT = redis_script("reserve_login_attempt")
RELEASE_ATTEMPT = redis_script("release_login_attempt")


def _failure_keys(client: str, username: str) -> tuple[list[str], list[int]]:
    """The two counters (per client, per username) and their limits.

    The username is hashed into the key: it is client input of any length and content.
    """
    user = hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    keys = [f"{FAILURE_KEY_PREFIX}client:{client}", f"{FAILURE_KEY_PREFIX}user:{user}"]
    return keys, [settings.LOGIN_MAX_FAILURES_PER_CLIENT, settings.LOGIN_MAX_FAILURES_PER_USER]


def reserve_attempt(client: str, username: str) -> int:
    """Count a login attempt before the password is checked; seconds to wait if over the limit.

    0 means go ahead. If Redis is unreachable the guard lets the attempt through (and logs it).
    """
    keys, limits = _failure_keys(client, username)
    try:
        wait = RESERVE_ATTEMPT(get_redis(), keys, [*limits, settings.LOGIN_FAILURE_WINDOW_SECONDS])
    except redis.RedisError as exc:
        log.warning("Login guard unavailable, not throttling: %s", exc)
        return 0
    return int(wait)


def release_attempt(client: str, username: str) -> None:
    """The attempt did not fail a password check (it succeeded, or was malformed): uncount it."""
    keys, _ = _failure_keys(client, username)
    try:
        RELEASE_ATTEMPT(get_redis(), keys)
    except redis.RedisError as exc:
        log.warning("Login guard unavailable, attempt not released: %s", exc)


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
        wait = reserve_attempt(client, username)
        if wait:
            return Response(
                {"error": f"Too many failed logins. Try again in {wait} seconds."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(wait)},
            )
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            raise  # a wrong password: the attempt stays counted
        except Exception:
            release_attempt(client, username)
            raise
        release_attempt(client, username)
        return response


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh, refused (401, never a 500) when the user is gone, inactive, or has
    changed password since the token was issued (the token carries a hash of the password)."""

    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])
        user_id = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first() if user_id else None
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if refresh.payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", "password_changed")
        return super().validate(attrs)


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
