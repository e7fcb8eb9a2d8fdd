"""The staff panel's sessions: Django's session, CSRF, user and messages middleware, on its views only.

The API authenticates every request with a bearer token and keeps no session, and the public page
has no login; only `/ops/` logs staff in with a cookie. Run on every request, those four cost about
5 % of a `POST /api/pets/`'s CPU for nothing (`make bench`, side by side). The panel's views get the
same four here, in the order MIDDLEWARE had them, as view decorators
(`decorator_from_middleware`, which is what Django's own `csrf_protect` is).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponseBase
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_protect

View = Callable[..., HttpResponseBase]

with_session = decorator_from_middleware(SessionMiddleware)
with_user = decorator_from_middleware(AuthenticationMiddleware)
with_messages = decorator_from_middleware(MessageMiddleware)


def staff_session(view: View) -> View:
    """`view` with the session, CSRF protection, `request.user` and messages."""
    return with_session(csrf_protect(with_user(with_messages(view))))
