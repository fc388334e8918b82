"""The web page in real headless Chromium: sign in, upload through Uppy (tus), trim, share, play.

Playwright drives Debian's Chromium (`executable_path`); it never downloads a browser build.
"""

from __future__ import annotations

import pytest
import requests

from server.web import VENDORED
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT_DIR, needs_chromium
from tests.servers import PROJECT_ROOT
from video_manager.config import load_config

pytestmark = [
    needs_chromium,
    pytest.mark.skipif(
        not (load_config(PROJECT_ROOT / "config.toml").web_assets_dir / VENDORED["uppy"]).is_dir(),
        reason="Uppy's files are not installed (npm was not found)",
    ),
]


def test_upload_trim_and_share_in_a_browser(live_server, live_worker, make_user, sample_video):
    from playwright.sync_api import sync_playwright

    username, password, token = make_user()
    OUTPUT_DIR.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, chromium_sandbox=False
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            responses: list[tuple[str, int]] = []
            page.on("response", lambda response: responses.append((response.url, response.status)))
            page.goto(live_server.url + "/")

            page.fill("#login-form input[name=username]", username)
            page.fill("#login-form input[name=password]", password)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#app:not([hidden])")

            page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files(str(sample_video))
            page.click(".uppy-StatusBar-actionBtn--upload")
            page.wait_for_selector("#videos tbody td.status-ready", timeout=60_000)
            assert any("/api/videos/chunked_upload/" in url and status == 201 for url, status in responses)
            assert page.inner_text("#videos tbody td.name") == sample_video.name

            page.check("#videos tbody input[type=checkbox]")
            page.fill("#trim-form input[name=start_time]", "0.5")
            page.fill("#trim-form input[name=end_time]", "00:00:01.500")
            page.click("#trim-form button[type=submit]")
            page.wait_for_selector("#tasks li.status-finished", timeout=60_000)
            page.wait_for_selector("#videos tbody tr:nth-child(2)")

            page.click("#share-form button[type=submit]")
            page.wait_for_selector("#share-link")
            link = page.get_attribute("#share-link", "href")
            page.wait_for_function(
                "document.querySelector('#share-result video').readyState >= 1", timeout=30_000
            )
            page.screenshot(path=str(OUTPUT_DIR / "browser-e2e.png"), full_page=True)
        finally:
            browser.close()
    assert any(url == link and status in (200, 206) for url, status in responses), responses[-10:]
    listed = requests.get(
        f"{live_server.url}/api/videos/", headers={"Authorization": f"Token {token}"}
    ).json()
    assert sorted(v["source"] for v in listed["results"]) == ["trim", "upload"]
