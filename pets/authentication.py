"""How API requests are authenticated: simplejwt's bearer tokens, users cached for a second."""

from __future__ import annotations

import threading
import time

from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password


class CachedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, with each user read from the database at most once a second
    per process instead of on every request (that read was a fifth of a request's CPU).

    Everything simplejwt checks still holds, on a copy at most USER_CACHE_SECONDS old: a deleted
    or deactivated user, or a password change (which revokes earlier tokens), takes effect
    within that second.
    """

    USER_CACHE_SECONDS = 1.0
    _users: dict[object, tuple[float, AbstractBaseUser]] = {}
    _lock = threading.Lock()

    def get_user(self, validated_token):  # noqa: ANN001, ANN201 (simplejwt's signature)
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > now:
            user = cached[1]
        else:
            user = super().get_user(validated_token)  # raises for unknown, inactive, revoked
            with self._lock:
                if len(self._users) > 10_000:
                    self._users.clear()
                self._users[user_id] = (now + self.USER_CACHE_SECONDS, user)
            return user
        # The cached user passed simplejwt's checks; the token's own revocation claim is checked here.
        if validated_token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user


class CachedUserJWTScheme(SimpleJWTScheme):
    """The OpenAPI schema describes it as the bearer JWT it is (drf-spectacular)."""

    target_class = "pets.authentication.CachedUserJWTAuthentication"
