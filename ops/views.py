"""`/ops/`: the operations panel, for staff (Django's session login; every action a CSRF-checked
POST, recorded in the audit trail). ops/urls.py gives each view its session (ops/sessions.py).
Thin views: the reads are in ops/selectors.py, the actions in ops/services.py and the shared
queue_tools/dead_letter_ops.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

import redis
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.views import redirect_to_login
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ops import forms, roles, selectors, services
from pets.page import with_content_security_policy
from pets.redis_client import get_redis
from pets.tokens import release_attempt, reserve_attempt

PER_PAGE = 20
View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Anonymous: to the login page. Logged in without staff status: 403."""
    return _guarded(view, acts=False)


def acting_staff_only(view: View) -> View:
    """staff_only, and a viewer (ops/roles.py) is refused too: 403, nothing done."""
    return _guarded(view, acts=True)


def _guarded(view: View, *, acts: bool) -> View:
    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("ops-login"))
        if not roles.can_see(request.user):
            return with_content_security_policy(render(request, "ops/forbidden.html", status=403))
        if acts and not roles.can_act(request.user):
            refused = {"read_only": True}
            return with_content_security_policy(render(request, "ops/forbidden.html", refused, status=403))
        try:
            return with_content_security_policy(view(request, *args, **kwargs))
        except redis.RedisError as exc:
            context = {"error": f"Redis is not answering: {exc}"}
            return with_content_security_policy(render(request, "ops/forbidden.html", context, status=503))

    return guarded


def invalid(form: Form) -> JsonResponse:
    return JsonResponse({"error": "Invalid input", "fields": form.errors}, status=400)


def who(request: HttpRequest) -> str:
    return f"{request.user.get_username()} (panel)"


@require_GET
@staff_only
def panel(request: HttpRequest) -> HttpResponse:
    query = forms.DeadLetterQuery(request.GET)
    if not query.is_valid():
        return invalid(query)
    client = get_redis()
    search = query.cleaned_data["q"] or ""
    context = {
        "state": selectors.panel_state(client),
        "dead": selectors.dead_letter_page(
            client, page=query.cleaned_data["page"] or 1, per_page=PER_PAGE, search=search
        ),
        "actions": selectors.recent_actions(client),
        "can_act": roles.can_act(request.user),
    }
    return render(request, "ops/panel.html", context)


@require_GET
@staff_only
def state(request: HttpRequest) -> HttpResponse:
    """The live part of the panel (consumers, queue, delayed tasks), for the page to refresh."""
    return render(request, "ops/_state.html", {"state": selectors.panel_state(get_redis())})


def _back(search: str = "") -> HttpResponse:
    return redirect(reverse("ops-panel") + (f"?{urlencode({'q': search})}" if search else ""))


@require_POST
@acting_staff_only
def requeue_one(request: HttpRequest) -> HttpResponse:
    form = forms.RequeueOne(request.POST)
    if not form.is_valid():
        return invalid(form)
    entry_id = form.cleaned_data["entry_id"]
    moved = services.requeue_one(get_redis(), who=who(request), entry_id=entry_id)
    if moved:
        messages.success(request, f"Dead letter {entry_id} queued again.")
    else:
        messages.warning(request, f"No dead letter {entry_id} (someone requeued or purged it already?).")
    return _back()


@require_POST
@acting_staff_only
def requeue_matching(request: HttpRequest) -> HttpResponse:
    form = forms.RequeueMatching(request.POST)
    if not form.is_valid():
        return invalid(form)
    search = form.cleaned_data["q"]
    moved = services.requeue_matching(get_redis(), who=who(request), search=search)
    messages.success(request, f"{moved} dead letter(s) matching {search!r} queued again.")
    return _back()


@require_POST
@acting_staff_only
def purge(request: HttpRequest) -> HttpResponse:
    form = forms.Purge(request.POST)
    if not form.is_valid():
        return invalid(form)
    deleted = services.purge(get_redis(), who=who(request))
    messages.success(request, f"{deleted} dead letter(s) deleted.")
    return _back()


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Staff log in with their Django account, behind the same failed-login guard as the API."""
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("ops-panel")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("ops-panel")
    context: dict[str, object] = {"next": next_url}
    if request.method == "POST":
        username, password = request.POST.get("username", ""), request.POST.get("password", "")
        address = request.META.get("REMOTE_ADDR", "unknown")
        wait = reserve_attempt(address, username)
        if wait:
            context["error"] = f"Too many failed logins. Try again in {wait} seconds."
            return with_content_security_policy(render(request, "ops/login.html", context, status=429))
        user = authenticate(request, username=username, password=password)
        if user is None:
            context["error"] = "Wrong username or password."
            return with_content_security_policy(render(request, "ops/login.html", context, status=401))
        release_attempt(address, username)
        login(request, user)
        return redirect(next_url)
    return with_content_security_policy(render(request, "ops/login.html", context))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("ops-login")
