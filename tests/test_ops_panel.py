"""The operations panel in a real browser (Debian's chromium via Playwright), with a real consumer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from contracts.tasks import DEAD_LETTER_KEY
from tests.support.api import ADMIN_PASSWORD, ADMIN_USERNAME, create_user
from tests.support.browser import chromium_page
from tests.support.processes import ROOT, wait_until
from tests.support.tasks import wait_for_files
from tests.support.wikipedia import WIKIPEDIA_PREFIX, serve_summary


@pytest.fixture
def browser_page(tmp_path):
    with chromium_page(tmp_path / "ops.png", width=1300, height=1000) as page:
        yield page


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/ops/")
    assert page.url.endswith("/ops/login/?next=/ops/")
    page.fill("#ops-login input[name=username]", username)
    page.fill("#ops-login input[name=password]", password)
    page.click("#ops-login button")


def test_staff_see_the_consumers_and_requeue_a_dead_letter_that_then_gets_processed(
    browser_page, api_server, api, start_consumer, wikipedia, redis_client
):
    page = browser_page
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("down", status=503)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), TASK_MAX_ATTEMPTS="1")
    pet = api.create_pet(name="Mishi", species="Cat")
    wait_until(lambda: redis_client.llen(DEAD_LETTER_KEY) == 1, what="the dead letter")

    log_in(page, api_server.base_url, "admin", "wrong")
    assert "Wrong username or password." in page.text_content("#login-error")
    page.fill("#ops-login input[name=username]", ADMIN_USERNAME)
    page.fill("#ops-login input[name=password]", ADMIN_PASSWORD)
    page.click("#ops-login button")
    page.wait_for_selector("#consumers tr[data-consumer='Consumer-1']")
    assert "idle" in page.text_content("#consumers tr[data-consumer='Consumer-1']")
    row = page.locator("#dead-letters tr[data-entry-id]")
    assert pet["id"] in row.inner_text() and "HTTP 503" in row.inner_text()

    wikipedia.clear()
    serve_summary(wikipedia, "Cat")  # the cause is fixed
    row.locator("button", has_text="Requeue").click()
    page.wait_for_selector(".message >> text=queued again")
    wait_for_files(api_server.processed_dir, 1)
    assert "No dead letters." in page.text_content("#dead-letters")
    assert "requeue" in page.text_content("#audit") and "admin (panel)" in page.text_content("#audit")
    page.wait_for_selector("body[data-live=open]")


def test_a_non_staff_account_is_refused(browser_page, api_server, redis_client):
    create_user(api_server, "visitor", "visitor-password-1")
    log_in(browser_page, api_server.base_url, "visitor", "visitor-password-1")
    browser_page.wait_for_selector("text=Staff only")
    response = browser_page.request.post(api_server.base_url + "/ops/dead/purge/", form={"confirm": "yes"})
    assert response.status == 403  # no CSRF token (and not staff either)


def test_a_viewer_sees_the_panel_and_cannot_act(browser_page, api_server, redis_client):
    """Made with the documented command; the page offers no action, and a purge posted from the
    page anyway (with its session and CSRF token) is refused and deletes nothing."""
    from contracts.dead_letters import DeadLetter
    from contracts.tasks import build_task

    create_user(api_server, "watcher", "watcher-password-1")
    subprocess.run([sys.executable, "manage.py", "viewer", "watcher"], env=api_server.env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    task = build_task(pet_id="0" * 24, name="Mishi", species="Cat", age=1, owner="Ana", vaccinated=False,
                      reason="created").after_failure("WikipediaUnavailable: HTTP 503")  # fmt: skip
    redis_client.rpush(DEAD_LETTER_KEY, DeadLetter.for_task(task, consumer="Consumer-1").to_json())
    page = browser_page
    log_in(page, api_server.base_url, "watcher", "watcher-password-1")
    page.wait_for_selector("#read-only")
    assert "HTTP 503" in page.text_content("#dead-letters")
    assert page.locator("#dead-letters button", has_text="Requeue").count() == 0
    assert page.locator("#dead-letters button", has_text="Purge").count() == 0
    status = page.evaluate(
        """async () => {
            const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken='))?.split('=')[1] ?? '';
            const body = new URLSearchParams({confirm: 'yes', csrfmiddlewaretoken: token});
            const response = await fetch('/ops/dead/purge/', {method: 'POST', body});
            return [response.status, await response.text()];
        }"""
    )
    assert status[0] == 403 and "Read-only" in status[1]  # refused as a viewer, not for a missing token
    assert redis_client.llen(DEAD_LETTER_KEY) == 1


def test_the_task_history_finds_tasks_by_each_filter_retries_and_requeues_by_filter(
    browser_page, api_server, api, start_consumer, wikipedia, redis_client
):
    """Six pets, two species, through a real consumer; two dead. Each filter of the panel's task
    history finds what it should; one dead task is retried, the others requeued by a filter after a
    confirmed count; both are in the audit trail. A viewer finds tasks and has no button, and a
    cancel posted anyway is refused and changes nothing."""
    from contracts.task_status import STATUS_KEY

    serve_summary(wikipedia, "Cat")
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Dog").respond_with_data("down", status=503)
    start_consumer("3", PROCESSED_DIR=str(api_server.processed_dir), TASK_MAX_ATTEMPTS="1")
    pets = [api.create_pet(name=f"Tom {n}", species="Cat" if n < 3 else "Dog") for n in range(5)]
    wait_until(lambda: redis_client.llen(DEAD_LETTER_KEY) == 2, what="two dead letters")
    wait_for_files(api_server.processed_dir, 3)
    wikipedia.clear()
    serve_summary(wikipedia, "Cat")
    serve_summary(wikipedia, "Dog")

    page = browser_page
    log_in(page, api_server.base_url, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.click("#task-history-link")
    page.wait_for_selector("#tasks")

    def find(**fields: str) -> list[str]:
        page.goto(api_server.base_url + "/ops/tasks/")
        for field, value in fields.items():
            if field == "state":
                page.select_option("#task-search select[name=state]", value)
            else:
                page.fill(f"#task-search input[name={field}]", value)
        page.click("#task-search button")
        page.wait_for_load_state()
        return [row.get_attribute("data-task-id") for row in page.locator("#tasks tbody tr").all()]

    task_of = {pet["id"]: json.loads(redis_client.hget(STATUS_KEY, pet["id"]))["task_id"] for pet in pets}
    assert len(find()) == 5
    assert find(pet_id=pets[1]["id"]) == [task_of[pets[1]["id"]]]
    assert find(name="tom 4") == [task_of[pets[4]["id"]]]
    assert find(species="dog") == [task_of[pets[4]["id"]], task_of[pets[3]["id"]]]
    assert find(state="dead") == [task_of[pets[4]["id"]], task_of[pets[3]["id"]]]
    assert len(find(consumer="Consumer-3")) == 5 and find(consumer="Consumer-1") == []
    assert find(until="2000-01-01T00:00:00") == [] and len(find(since="2000-01-01T00:00:00")) == 5
    assert "Tom 4" in page.locator("#tasks tbody tr").first.inner_text()  # newest first

    find(pet_id=pets[3]["id"])
    page.locator("#tasks button", has_text="Retry").click()
    page.wait_for_selector(".message >> text=queued again")
    wait_for_files(api_server.processed_dir, 4)

    find(species="Dog", state="dead")
    assert page.locator("#requeue-dead button").inner_text() == "Requeue 1"
    page.check("#requeue-dead input[name=confirm]")
    page.click("#requeue-dead button")
    page.wait_for_selector(".message >> text=1 dead task(s) queued again")
    wait_for_files(api_server.processed_dir, 5)
    page.goto(api_server.base_url + "/ops/")
    audit = page.text_content("#audit")
    assert "retry" in audit and "requeue dead by filter" in audit and "species=Dog: 1 requeued" in audit

    create_user(api_server, "looker", "looker-password-1")
    subprocess.run([sys.executable, "manage.py", "viewer", "looker"], env=api_server.env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    queued = api.create_pet(name="Late", species="Cat")  # the consumer may take it: cancel what it can
    page.context.clear_cookies()
    log_in(page, api_server.base_url, "looker", "looker-password-1")
    page.goto(api_server.base_url + "/ops/tasks/?name=late")
    page.wait_for_selector("#read-only")
    assert page.locator("#tasks button").count() == 0
    before = redis_client.hget(STATUS_KEY, queued["id"])
    status = page.evaluate(
        """async (taskId) => {
            const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken='))?.split('=')[1] ?? '';
            const response = await fetch(`/ops/tasks/${taskId}/cancel/`, {method: 'POST',
                body: new URLSearchParams({csrfmiddlewaretoken: token})});
            return response.status;
        }""",
        json.loads(before)["task_id"],
    )
    assert status == 403
    assert redis_client.zcard("pets:cancelled") == 0
