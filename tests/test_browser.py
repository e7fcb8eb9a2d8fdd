"""The page in a real browser (Debian's chromium driven by Playwright): log in, create a pet."""

from __future__ import annotations

import time

import pytest
from playwright import sync_api as playwright_sync

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS, chromium_page
from tests.support.wikipedia import WIKIPEDIA_PREFIX, answer_slowly, serve_summary


@pytest.fixture
def page(api_server, tmp_path):
    with chromium_page(tmp_path / "page.png") as page:
        yield page


def submit_login(page, password: str) -> None:
    page.fill("#login-form input[name=username]", "admin")
    page.fill("#login-form input[name=password]", password)
    page.click("#login-form button")


def fill_pet_form(page, *, name: str, species: str, owner: str, age: str | None = None) -> None:
    page.fill("#create-form input[name=name]", name)
    page.fill("#create-form input[name=species]", species)
    page.fill("#create-form input[name=owner]", owner)
    if age is not None:
        page.fill("#create-form input[name=age]", age)


def test_log_in_and_create_a_pet_from_the_page(page, api_server, api):
    page.goto(api_server.base_url + "/")
    # Its own icon: a browser asks for /favicon.ico otherwise, a 404 in every visitor's console.
    assert page.locator("link[rel=icon]").get_attribute("href").startswith("data:image/svg+xml,")
    assert page.locator("#user-panel").is_hidden()

    submit_login(page, "wrong")
    page.wait_for_selector("#form-message.error")
    assert "No active account" in page.text_content("#form-message")

    submit_login(page, "admin123")
    page.wait_for_selector("#user-panel:not([hidden])")
    assert page.text_content("#current-user") == "admin"

    fill_pet_form(page, name="<b>Luna</b>", species="Cat", owner="María García", age="3")
    page.check("#create-form input[name=vaccinated]")
    page.click("#create-form button")
    page.wait_for_selector("#pets-table td.name")  # the new row is added in place
    assert page.text_content("#pets-table td.name") == "<b>Luna</b>"  # shown as text, not markup
    assert page.locator("#pets-table b").count() == 0

    [pet] = api.get("/api/pets/").json()
    assert pet["name"] == "<b>Luna</b>" and pet["vaccinated"] is True and pet["age"] == 3


def test_page_shows_api_validation_errors(page, api_server):
    page.goto(api_server.base_url + "/")
    submit_login(page, "admin123")
    page.wait_for_selector("#user-panel:not([hidden])")
    fill_pet_form(page, name="Rex", species="Dog", owner="Ana")
    # Bypass the browser's own checks to see the API's answer shown.
    page.eval_on_selector("#create-form input[name=age]", "el => { el.removeAttribute('max'); el.value = '500'; }")
    page.click("#create-form button")
    page.wait_for_selector("#form-message.error")
    assert "age" in page.text_content("#form-message")


# -- the page keeps itself up to date (polling /rows/) ------------------------------------------


def log_in_on_the_page(page, api_server) -> None:
    page.goto(api_server.base_url + "/")
    submit_login(page, "admin123")
    page.wait_for_selector("#user-panel:not([hidden])")


def create_on_the_page(page, **fields: str) -> None:
    fill_pet_form(page, **fields)
    page.click("#create-form button")
    page.wait_for_selector("#form-message.ok >> text=Pet created successfully")


def test_a_new_pet_turns_enriched_without_a_reload(page, api_server, start_consumer, wikipedia):
    # Long enough to see it processing even on a busy machine (the suite runs on every core).
    answer_slowly(wikipedia, 2.5)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), WIKIPEDIA_TIMEOUT_SECONDS="5")
    log_in_on_the_page(page, api_server)
    page.evaluate("window.__sameDocument = true")
    create_on_the_page(page, name="Luna", species="Cat", owner="Ana", age="3")
    row = page.locator("#pets-table tr[data-pet-id]").first
    seen = {row.get_attribute("data-state")}
    deadline = time.monotonic() + 15
    while row.get_attribute("data-state") != "done" and time.monotonic() < deadline:
        seen.add(row.get_attribute("data-state"))
        page.wait_for_timeout(100)
    print(f"\nstates the row went through: {sorted(seen)} then done")
    assert row.get_attribute("data-state") == "done"
    assert "Enriched" in row.inner_text()
    assert seen & {"queued", "processing"}
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert "Pet created successfully: Luna." in page.text_content("#form-message")  # the message stays


def test_a_pet_created_elsewhere_appears_and_turns_enriched_live(page, api_server, api, start_consumer, wikipedia):
    """The live event stream, not polling: the page learns of a pet it never asked about."""
    serve_summary(wikipedia, "Cat")
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir))
    page.goto(api_server.base_url + "/")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector("body[data-live=open]")  # the stream is connected
    assert page.locator("#live-status").is_visible()
    created = time.monotonic()
    pet = api.create_pet(name="Mishi", species="Cat")  # through the API: another client
    page.wait_for_selector(f'tr[data-pet-id="{pet["id"]}"][data-state="done"]', timeout=2_000)
    print(f"\nrow enriched on the open page {time.monotonic() - created:.2f} s after the create")
    row = page.locator(f'tr[data-pet-id="{pet["id"]}"]')
    assert "Enriched" in row.inner_text()
    assert "The cat" in row.locator(".extract").text_content(timeout=1_000)  # in its closed <details>
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.text_content(".count") == "(1)"


def test_a_failed_enrichment_says_why_and_what_to_do(page, api_server, api, start_consumer, wikipedia):
    wikipedia.expect_request(f"{WIKIPEDIA_PREFIX}/page/summary/Cat").respond_with_data("down", status=503)
    start_consumer("1", PROCESSED_DIR=str(api_server.processed_dir), TASK_MAX_ATTEMPTS="2", TASK_RETRY_BASE_SECONDS="8")
    page.goto(api_server.base_url + "/")
    pet = api.create_pet(name="Mishi", species="Cat")
    page.reload()
    row = page.locator(f'#pets-table tr[data-pet-id="{pet["id"]}"]')
    page.wait_for_selector(f'tr[data-pet-id="{pet["id"]}"][data-state="retrying"]', timeout=10_000)
    retrying = row.inner_text()
    assert "Attempt 1 failed: WikipediaUnavailable: HTTP 503" in retrying and "Next attempt at" in retrying
    page.wait_for_selector(f'tr[data-pet-id="{pet["id"]}"][data-state="dead"]', timeout=15_000)
    failed = row.inner_text()
    print(f"\n{retrying}\n---\n{failed}")
    assert "Failed" in failed and "Gave up after 2 attempts" in failed
    assert "./scripts/consumer dead requeue " in failed


def test_the_page_fits_a_phone(api_server, api, tmp_path):
    api.create_pet(name="Bartholomew Fluffington the Third", species="Guinea pig", owner="Maria Fernanda Garcia")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
        page.goto(api_server.base_url + "/")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        browser.close()
    print(f"\ndocument width at 375 px: {width} px")
    assert width <= 375


def test_logging_out_on_the_page_revokes_the_refresh_token(page, api_server, anon):
    log_in_on_the_page(page, api_server)
    refresh = page.evaluate("sessionStorage.getItem('pets.refresh')")
    page.click("#logout")
    page.wait_for_selector("#form-message.ok >> text=Logged out.")
    response = anon.post("/api/token/refresh/", json={"refresh": refresh})
    assert response.status_code == 401
