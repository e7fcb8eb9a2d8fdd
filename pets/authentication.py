"""How API requests are authenticated: simplejwt's bearer tokens, verified tokens and users cached."""

from __future__ import annotations

import threading
import time

from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password


class CachedUserJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, with each user read from the database at most once a second
    per process instead of on every request (that read was a fifth of a request's CPU).

    Everything simplejwt checks still holds, on a copy at most USER_CACHE_SECONDS old: a deleted
    or deactivated user, or a password change (which revokes earlier tokens), takes effect
    within that second.
    """

    USER_CACHE_SECONDS = 1.0
    TOKEN_CACHE_SECONDS = 60.0
    CACHE_ENTRIES = 10_000
    _users: dict[object, tuple[float, AbstractBaseUser]] = {}
    _tokens: dict[bytes, tuple[float, Token]] = {}
    _lock = threading.Lock()

    def get_validated_token(self, raw_token: bytes) -> Token:
        """A token verified in the last minute is not verified again until it expires: PyJWT's
        checks (base64url character by character, then the HMAC) were a fifth of a create's CPU.
        Only tokens that passed are kept, by their exact bytes; an expired one is verified again,
        which refuses it with simplejwt's own error."""
        now = time.monotonic()
        cached = self._tokens.get(raw_token)
        if cached is not None and cached[0] > now and cached[1].payload.get("exp", 0) > time.time():
            return cached[1]
        token = super().get_validated_token(raw_token)
        with self._lock:
            if len(self._tokens) >= self.CACHE_ENTRIES:
                self._tokens.clear()
            self._tokens[raw_token] = (now + self.TOKEN_CACHE_SECONDS, token)
        return token

    def get_user(self, validated_token):  # noqa: ANN001, ANN201 (simplejwt's signature)
        user_id = validated_token.get(jwt_settings.USER_ID_CLAIM)
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > now:
            user = cached[1]
        else:
            user = super().get_user(validated_token)  # raises for unknown, inactive, revoked
            with self._lock:
                if len(self._users) >= self.CACHE_ENTRIES:
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
