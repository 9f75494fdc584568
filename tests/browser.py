"""Headless Chromium for tests that look at a page as a user does: Debian's chromium, driven by
Playwright (no browser download). Where it is not installed the test is skipped, except in CI
(KUBETUNE_REQUIRE_BROWSER=1), where that is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "no Chromium on this machine (apt-get install chromium)"
        if os.environ.get("KUBETUNE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def open_page(url: str, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """The page loaded, and the script errors and console errors it raised while loading."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            page.on(
                "console",
                lambda message: (
                    errors.append(f"console: {message.text}") if message.type == "error" else None
                ),
            )
            page.goto(url, wait_until="load")
            yield page, errors
        finally:
            browser.close()
