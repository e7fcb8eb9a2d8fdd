"""`/ops/`: the operations panel, for staff (Django's session login; every action a CSRF-checked
POST, recorded in the audit trail). ops/urls.py gives each view its session (ops/sessions.py).
Thin views: the reads are in ops/selectors.py, the actions in ops/services.py and the shared
queue_tools/dead_letter_ops.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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

from contracts.history import HistoryEntry
from contracts.task_status import DEAD
from ops import forms, roles, selectors, services
from pets.page import with_content_security_policy
from pets.redis_client import get_redis
from pets.tokens import release_attempt, reserve_attempt
from pets.views import cancel_body
from queue_tools import history

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


TASKS_PER_PAGE = 25


@require_GET
@staff_only
def tasks(request: HttpRequest) -> HttpResponse:
    """The task history: find tasks by pet, name, species, state, consumer and time; act on them."""
    query = forms.TaskSearch(request.GET)
    if not query.is_valid():
        return invalid(query)
    client = get_redis()
    task_filter = query.task_filter()
    try:
        page = history.search(client, task_filter, limit=TASKS_PER_PAGE, cursor=query.cleaned_data["cursor"] or None)
    except history.BadCursor as exc:
        return JsonResponse({"error": "Invalid input", "fields": {"cursor": [str(exc)]}}, status=400)
    search = {key: value for key, value in request.GET.items() if key != "cursor" and value}
    dead_matching = None  # counted when the search asks for dead tasks: it reads the dead letters
    if roles.can_act(request.user) and task_filter.state == DEAD and not replace(task_filter, state="").empty:
        dead_matching = services.count_dead(client, replace(task_filter, state=""))
    context = {
        "query": query,
        "page": page,
        "search": search,
        "back": request.get_full_path(),
        "newest_query": urlencode(search),
        "next_query": urlencode({**search, "cursor": page.next_cursor}) if page.next_cursor else None,
        "filtered": not task_filter.empty,
        "dead_matching": dead_matching,
        "can_act": roles.can_act(request.user),
    }
    return render(request, "ops/tasks.html", context)


def _task_action(request: HttpRequest, task_id: str, act: Callable[[HistoryEntry], tuple[bool, str]]) -> HttpResponse:
    """A panel action on one task of the history: `act` says whether it did something, and what;
    the page goes back to the search it came from (only ever a task-history address)."""
    form = forms.TaskAction(request.POST)
    if not form.is_valid():
        return invalid(form)
    entry = history.get(get_redis(), task_id)
    if entry is None:
        return JsonResponse({"error": services.UNKNOWN_TASK}, status=404)
    done, message = act(entry)
    (messages.success if done else messages.warning)(request, message)
    back = form.cleaned_data.get("back") or ""
    return redirect(back if back.startswith(reverse("ops-tasks")) else reverse("ops-tasks"))


@require_POST
@acting_staff_only
def cancel_task(request: HttpRequest, task_id: str) -> HttpResponse:
    def cancel(entry: HistoryEntry) -> tuple[bool, str]:
        outcome = services.cancel_task(get_redis(), who=who(request), entry=entry)
        if isinstance(outcome, services.Refused):
            return False, f"Task {task_id} not cancelled: {outcome.why}."
        body, code = cancel_body(outcome)  # the API's wording, one definition
        return code < 400, f"Task {task_id}: {body.get('message') or body['error']}."

    return _task_action(request, task_id, cancel)


@require_POST
@acting_staff_only
def retry_task(request: HttpRequest, task_id: str) -> HttpResponse:
    def retry(entry: HistoryEntry) -> tuple[bool, str]:
        outcome = services.retry_task(get_redis(), who=who(request), entry=entry)
        if isinstance(outcome, services.Refused):
            return False, f"Task {task_id} not retried: {outcome.why}."
        return True, f"Task {task_id} queued again."

    return _task_action(request, task_id, retry)


@require_POST
@acting_staff_only
def requeue_dead(request: HttpRequest) -> HttpResponse:
    """Requeue every dead task matching the filter, once the count the page showed is confirmed."""
    form = forms.RequeueDead(request.POST)
    if not form.is_valid():
        return invalid(form)
    task_filter = replace(form.task_filter(), state="")
    if task_filter.empty:
        return JsonResponse({"error": "Invalid input", "fields": {"filter": ["a filter is required"]}}, status=400)
    client = get_redis()
    count = services.count_dead(client, task_filter)
    expected = form.cleaned_data["expected_count"]
    if count != expected:
        changed = f"{count} dead tasks match now, not {expected}: nothing requeued; check and confirm again."
        messages.warning(request, changed)
    else:
        moved = services.requeue_dead(client, who=who(request), task_filter=task_filter)
        messages.success(request, f"{moved} dead task(s) queued again.")
    search = {key: value for key, value in request.POST.items() if key in forms.TaskSearch.base_fields and value}
    search.pop("cursor", None)
    return redirect(reverse("ops-tasks") + (f"?{urlencode(search)}" if search else ""))


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
