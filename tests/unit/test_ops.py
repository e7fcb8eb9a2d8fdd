"""The operations panel in process (Django's test client), against the session's real Redis."""

from __future__ import annotations

import json

import pytest

from contracts import history
from contracts.dead_letters import DeadLetter
from contracts.tasks import DEAD_LETTER_KEY, TASKS_KEY, build_task


@pytest.fixture(scope="module")
def users(django_ready):
    from django.contrib.auth import get_user_model

    model = get_user_model()
    staff = model.objects.create_user(username="ops-staff", password="staff-password", is_staff=True)
    plain = model.objects.create_user(username="ops-plain", password="plain-password")
    return staff, plain


@pytest.fixture
def staff_client(users, redis_client):
    from django.test import Client

    client = Client()
    client.force_login(users[0])
    return client


def dead_letters(redis_client, count: int, error: str = "WikipediaUnavailable: HTTP 503") -> list[DeadLetter]:
    entries = []
    with redis_client.pipeline() as pipe:
        for number in range(count):
            task = build_task(pet_id=f"{number:024x}", name=f"Pet {number}", species="Cat", age=1, owner="Ana",
                              vaccinated=False, reason="created").after_failure(error)  # fmt: skip
            entry = DeadLetter.for_task(task, consumer="Consumer-1")
            entries.append(entry)
            pipe.rpush(DEAD_LETTER_KEY, entry.to_json())
            history.note_on(pipe, history.note(task, history.DEAD, state="dead", consumer="Consumer-1"), 100)
        pipe.execute()
    return entries


def test_anonymous_visitors_are_sent_to_the_login_page_and_non_staff_get_403(users, redis_client):
    from django.test import Client

    response = Client().get("/ops/")
    assert response.status_code == 302 and response["Location"] == "/ops/login/?next=/ops/"
    plain = Client()
    plain.force_login(users[1])
    assert plain.get("/ops/").status_code == 403
    assert plain.post("/ops/dead/purge/", {"confirm": "yes"}).status_code == 403


def test_ten_thousand_dead_letters_are_shown_a_page_at_a_time(staff_client, redis_client):
    entries = dead_letters(redis_client, 10_000)
    before = redis_client.info("stats")["total_commands_processed"]
    response = staff_client.get("/ops/?page=2")
    commands = redis_client.info("stats")["total_commands_processed"] - before
    page = response.content.decode()
    assert response.status_code == 200 and "(10000)" in page
    newest_first = [entry.id for entry in reversed(entries)]
    assert newest_first[20] in page and newest_first[39] in page and newest_first[40] not in page
    assert "Older →" in page and "← Newer" in page
    print(f"\npage 2 of 10,000 dead letters: {commands} Redis commands")
    assert commands < 40  # a few per section, never one per entry


def test_search_finds_by_pet_id_and_error_and_requeue_matching_moves_only_those(staff_client, redis_client):
    entries = dead_letters(redis_client, 30)
    dead_letters(redis_client, 5, error="WikipediaRefused: redirect off the API")
    page = staff_client.get("/ops/", {"q": entries[7].pet_id}).content.decode()
    assert entries[7].id in page and entries[8].id not in page
    assert "Requeue all matching" in staff_client.get("/ops/", {"q": "refused"}).content.decode()
    response = staff_client.post("/ops/dead/requeue-matching/", {"q": "refused"})
    assert response.status_code == 302
    assert redis_client.llen(TASKS_KEY) == 5 and redis_client.llen(DEAD_LETTER_KEY) == 30
    followed = staff_client.get(response["Location"]).content.decode()
    assert "5 dead letter(s) matching &#x27;refused&#x27; queued again." in followed
    assert "<strong>ops-staff (panel)</strong> · requeue matching · &#x27;refused&#x27;: 5 requeued" in followed


def test_requeue_one_and_purge_are_audited(staff_client, redis_client):
    entries = dead_letters(redis_client, 3)
    assert staff_client.post("/ops/dead/requeue/", {"entry_id": entries[1].id}).status_code == 302
    [queued] = redis_client.lrange(TASKS_KEY, 0, -1)
    assert json.loads(queued)["task_id"] == entries[1].task_id and "attempts" not in json.loads(queued)
    assert staff_client.post("/ops/dead/purge/", {"confirm": "yes"}).status_code == 302
    assert redis_client.llen(DEAD_LETTER_KEY) == 0
    from queue_tools.audit import recent

    assert [(entry.who, entry.action) for entry in recent(redis_client)] == [
        ("ops-staff (panel)", "purge"),
        ("ops-staff (panel)", "requeue"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/ops/", {"page": "0"}),
        ("get", "/ops/", {"page": "two"}),
        ("get", "/ops/", {"q": "x" * 201}),
        ("post", "/ops/dead/requeue/", {}),
        ("post", "/ops/dead/requeue-matching/", {"q": "  "}),
        ("post", "/ops/dead/purge/", {}),
        ("post", "/ops/dead/purge/", {"confirm": "no"}),
    ],
)
def test_bad_input_is_a_400_json_that_changes_nothing(staff_client, redis_client, method, path, data):
    dead_letters(redis_client, 2)
    response = getattr(staff_client, method)(path, data)
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid input" and response.json()["fields"]
    assert redis_client.llen(DEAD_LETTER_KEY) == 2 and not redis_client.exists(TASKS_KEY)


def test_actions_need_the_csrf_token(users, redis_client):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users[0])
    dead_letters(redis_client, 1)
    refused = client.post("/ops/dead/purge/", {"confirm": "yes"})
    assert refused.status_code == 403 and refused.json()["error"].startswith("CSRF check failed")
    assert redis_client.llen(DEAD_LETTER_KEY) == 1


@pytest.fixture(scope="module")
def viewer(users):
    """A staff account made a viewer the documented way: `manage.py viewer <username>`."""
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    get_user_model().objects.create_user(username="ops-viewer", password="viewer-password")
    out = StringIO()
    call_command("viewer", "ops-viewer", stdout=out)
    assert "is a viewer" in out.getvalue()
    return get_user_model().objects.get(username="ops-viewer")


ACTIONS = [
    (lambda entries: "/ops/dead/requeue/", lambda entries: {"entry_id": entries[0].id}),
    (lambda entries: "/ops/dead/requeue-matching/", lambda entries: {"q": "HTTP 503"}),
    (lambda entries: "/ops/dead/purge/", lambda entries: {"confirm": "yes"}),
    (lambda entries: f"/ops/tasks/{entries[1].task_id}/retry/", lambda entries: {"back": "/ops/tasks/"}),
    (
        lambda entries: "/ops/tasks/requeue-dead/",
        lambda entries: {"species": "cat", "expected_count": 3, "confirm": "yes"},
    ),
]


@pytest.mark.parametrize(
    ("path", "data"), ACTIONS, ids=["requeue", "requeue matching", "purge", "retry task", "requeue dead by filter"]
)
def test_each_action_under_each_role(users, viewer, redis_client, path, data):
    """Staff act (and the audit trail says so); a viewer and a non-staff account get 403 and change
    nothing; the viewer still sees the panel, without the action buttons."""
    from django.test import Client

    from queue_tools.audit import AUDIT_KEY

    entries = dead_letters(redis_client, 3)
    for user, allowed in ((viewer, False), (users[1], False), (users[0], True)):
        client = Client()
        client.force_login(user)
        before = (redis_client.lrange(DEAD_LETTER_KEY, 0, -1), redis_client.llen(TASKS_KEY))
        audited = redis_client.llen(AUDIT_KEY)
        response = client.post(path(entries), data(entries))
        if allowed:
            assert response.status_code == 302
            assert (redis_client.lrange(DEAD_LETTER_KEY, 0, -1), redis_client.llen(TASKS_KEY)) != before
            assert redis_client.llen(AUDIT_KEY) == audited + 1
        else:
            assert response.status_code == 403
            assert (redis_client.lrange(DEAD_LETTER_KEY, 0, -1), redis_client.llen(TASKS_KEY)) == before
            assert redis_client.llen(AUDIT_KEY) == audited
    seen = Client()
    seen.force_login(viewer)
    dead_letters(redis_client, 1)
    page = seen.get("/ops/?q=HTTP")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Read-only" in html and "Requeue" not in html and "Purge" not in html
    tasks = seen.get("/ops/tasks/?species=cat")
    assert tasks.status_code == 200
    html = tasks.content.decode()
    assert "Read-only" in html and "Pet 0" in html and "<button" not in html.split('id="tasks"')[1]


def test_cancelling_a_task_from_the_panel_under_each_role(users, viewer, redis_client, pets_db):
    """Staff cancel a queued task (audited); a viewer and a non-staff account get 403, nothing changed."""
    from django.test import Client

    from contracts.task_status import STATUS_KEY, TaskStatus
    from contracts.tasks import CANCELLED_KEY
    from pets.services import pet_create
    from queue_tools.audit import AUDIT_KEY

    created = pet_create(name="Nube", species="Cat", age=1, owner="Ana")
    pet_id = str(created.pet_id)
    task_id = TaskStatus.from_json(redis_client.hget(STATUS_KEY, pet_id)).task_id
    for user, allowed in ((viewer, False), (users[1], False), (users[0], True)):
        client = Client()
        client.force_login(user)
        response = client.post(f"/ops/tasks/{task_id}/cancel/", {"back": "/ops/tasks/?name=nube"})
        assert response.status_code == (302 if allowed else 403)
        assert (redis_client.zscore(CANCELLED_KEY, task_id) is not None) is allowed
    assert response.url == "/ops/tasks/?name=nube"
    assert TaskStatus.from_json(redis_client.hget(STATUS_KEY, pet_id)).state == "cancelled"
    assert b"cancel" in redis_client.lindex(AUDIT_KEY, 0)
    elsewhere = client.post(f"/ops/tasks/{task_id}/cancel/", {"back": "https://evil.example/"})
    assert elsewhere.url == "/ops/tasks/"  # only back to the task history
    assert client.post("/ops/tasks/nope/cancel/").status_code == 404


def test_the_viewer_command_lists_removes_and_refuses_what_it_cannot_do(viewer):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from ops.roles import can_act

    out = StringIO()
    call_command("viewer", "--list", stdout=out)
    assert "ops-viewer" in out.getvalue().split()
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("viewer", "nobody")
    with pytest.raises(CommandError, match="Name the user"):
        call_command("viewer")
    call_command("viewer", "ops-viewer", "--remove", stdout=StringIO())
    viewer.refresh_from_db()
    assert viewer.is_staff and can_act(viewer)
    call_command("viewer", "ops-viewer", stdout=StringIO())  # a viewer again, for the other tests
    assert not can_act(viewer)


def test_the_task_history_refuses_bad_input_and_changes_nothing(users, redis_client):
    """A bad filter or cursor is a 400 JSON naming the field; a bulk requeue without a filter (it
    would match every dead task), or whose confirmed count is stale, requeues nothing."""
    from django.test import Client

    client = Client()
    client.force_login(users[0])
    for query in (
        "state=sleeping",
        "cursor=nonsense",
        "since=yesterday",
        "since=2026-12-07T10:00&until=2026-12-07T09:00",
    ):
        response = client.get(f"/ops/tasks/?{query}")
        assert response.status_code == 400 and response.json()["error"] == "Invalid input", query
    dead_letters(redis_client, 2)
    before = redis_client.lrange(DEAD_LETTER_KEY, 0, -1)
    everything = client.post("/ops/tasks/requeue-dead/", {"expected_count": 2, "confirm": "yes"})
    assert everything.status_code == 400 and "filter" in everything.json()["fields"]
    unconfirmed = client.post("/ops/tasks/requeue-dead/", {"species": "cat", "expected_count": 2})
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.json()["fields"]
    stale = client.post("/ops/tasks/requeue-dead/", {"species": "cat", "expected_count": 5, "confirm": "yes"})
    assert stale.status_code == 302  # back to the search, saying the count changed
    assert redis_client.lrange(DEAD_LETTER_KEY, 0, -1) == before and redis_client.llen(TASKS_KEY) == 0
    page = client.get(stale.url)
    assert "2 dead tasks match now, not 5" in page.content.decode()
