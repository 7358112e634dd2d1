"""Headless Chromium through Playwright, for browser tests and screenshots.

Debian's `chromium` package (`/usr/bin/chromium`) is used, never a browser downloaded by Playwright.
Tests skip when it is missing on a developer machine, and fail when it is missing in CI (`CI` set):
`.ci/run` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def require_chromium() -> None:
    """Skip (developer machine) or fail (CI) when Debian's Chromium is not installed."""
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must install it; see .ci/run)")
    pytest.skip(message)


@contextmanager
def page(width: int = 900, height: int = 820) -> Iterator:
    """A fresh page in a fresh browser context (accepting the stack's local certificates)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(
                ignore_https_errors=True, viewport={"width": width, "height": height}
            )
            yield context.new_page()
            context.close()
        finally:
            browser.close()
