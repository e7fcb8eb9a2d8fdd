"""The page in a real browser (Debian's chromium driven by Playwright): log in, create a pet."""

from __future__ import annotations

import shutil

import pytest
from playwright import sync_api as playwright_sync

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(api_server, tmp_path):
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        browser.close()
        assert errors == []


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
    page.wait_for_selector("#pets-table td.name")  # the page reloads with the new pet
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
