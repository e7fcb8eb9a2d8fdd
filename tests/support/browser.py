"""Headless Chromium (Debian's) for the page and panel tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Debian's chromium, driven by Playwright (never a browser download).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium_page(screenshot: Path, width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A page in headless chromium; afterwards a full-page screenshot is saved to `screenshot`,
    and any script error the page raised fails the test."""
    from playwright import sync_api as playwright_sync

    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
        assert errors == []
