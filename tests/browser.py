"""Headless Chromium for the tests that need a real browser: Debian's build, driven by Playwright
(`executable_path`), which never downloads one."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

import pytest

from server.web import VENDORED
from tests.servers import PROJECT_ROOT
from video_manager.config import load_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
OUTPUT_DIR = PROJECT_ROOT / "test-output"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"
)
PAGE_TEST_MARKS = [
    pytest.mark.e2e,
    pytest.mark.browser,
    needs_chromium,
    pytest.mark.skipif(
        not (load_config(PROJECT_ROOT / "config.toml").web_assets_dir / VENDORED["uppy"]).is_dir(),
        reason="Uppy's files are not installed (npm was not found)",
    ),
]
WAIT_MS = 60_000


@contextlib.contextmanager
def chromium(width: int = 1200, height: int = 1400) -> Iterator:
    """A page in a fresh headless Chromium; it may use the clipboard (the share links' Copy)."""
    from playwright.sync_api import sync_playwright

    OUTPUT_DIR.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, chromium_sandbox=False
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, permissions=["clipboard-read", "clipboard-write"]
            )
            yield context.new_page()
        finally:
            browser.close()


def shot(page, step: str, full_page: bool = True) -> None:
    page.screenshot(path=str(OUTPUT_DIR / f"page-{step}.png"), full_page=full_page)


def sign_in(page, server_url: str, username: str, password: str) -> None:
    page.goto(server_url + "/")
    page.fill("#login-form input[name=username]", username)
    page.fill("#login-form input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")
    # The library's first answer is shown (a list, or the sentence saying it is empty).
    page.wait_for_function(
        "document.querySelector('#library').children.length > 0"
        " || !document.querySelector('#library-empty').hidden"
    )
