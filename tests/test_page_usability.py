"""The page as people meet it, in headless Chromium at a desktop and a phone width: a long list
keeps the selected player in view, a trim's progress shows beside its button and its result opens
from there, typed clock times work and the window is shaded, a rejected upload is marked failed in
Uppy and can be deleted, search and sort, the user's name after a reload, no 404 on load.
Screenshots go to test-output/."""

from __future__ import annotations

import pytest
import requests

from tests.api import upload
from tests.browser import PAGE_TEST_MARKS, WAIT_MS, chromium, shot, sign_in
from tests.media import make_video

pytestmark = PAGE_TEST_MARKS
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
IN_VIEW = """(selector) => {
    const box = document.querySelector(selector).getBoundingClientRect()
    return box.height > 0 && box.top >= 0 && box.top < window.innerHeight
}"""


@pytest.fixture(scope="module")
def clip(media_dir):
    return make_video(media_dir / "usability-clip.mp4", seconds=1, size="160x120")


def test_a_long_list_keeps_the_player_in_view_and_can_be_searched(live_server, make_user, clip):
    username, password, token = make_user()
    for number in range(1, 31):
        upload(live_server, token, clip, name=f"clip-{number:02}.mp4")
    for width_name, (width, height) in VIEWPORTS.items():
        with chromium(width, height) as page:
            missing: list[str] = []

            def note_missing(response, missing=missing) -> None:
                if response.status == 404:
                    missing.append(response.url)

            page.on("response", note_missing)
            sign_in(page, live_server.url, username, password)
            page.wait_for_function("document.querySelectorAll('#library li').length === 30")

            # The 30th video, at the bottom of the list: its player is in view once selected.
            last = page.locator("#library li", has_text="clip-01.mp4")  # newest first: the first is last
            last.scroll_into_view_if_needed()
            last.click()
            page.wait_for_function("document.querySelector('#viewer-name').textContent === 'clip-01.mp4'")
            assert page.evaluate(IN_VIEW, "#player"), f"player out of view at {width_name} width"
            assert page.evaluate(IN_VIEW, "#trim-form"), f"trim tools out of view at {width_name} width"
            shot(page, f"long-list-{width_name}", full_page=False)

            # Search narrows the list; nothing found says so; sort by name.
            page.fill("#library-search", "clip-07")
            assert page.locator("#library .name").all_inner_texts() == ["clip-07.mp4"]
            page.fill("#library-search", "holiday")
            assert page.inner_text("#library-empty") == 'No video name contains "holiday".'
            page.fill("#library-search", "")
            page.select_option("#library-sort", "name")
            names = page.locator("#library .name").all_inner_texts()
            assert names == sorted(names) and len(names) == 30

            # The header keeps the user's name after a reload; nothing on the page was a 404.
            page.reload()
            page.wait_for_selector("#app:not([hidden])")
            assert page.inner_text("#who") == username
            assert missing == []
    icon = requests.get(f"{live_server.url}/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")


@pytest.mark.parametrize("width_name", list(VIEWPORTS))
def test_trim_progress_shows_beside_the_button_and_opens_the_result_then_merge_and_share(
    live_server, live_worker, make_user, media_dir, width_name
):
    username, password, token = make_user()
    source = make_video(media_dir / f"typed-{width_name}.mp4", seconds=12, size="640x360")
    upload(live_server, token, source)
    with chromium(*VIEWPORTS[width_name]) as page:
        sign_in(page, live_server.url, username, password)
        page.locator("#library li", has_text=source.name).click()
        page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=WAIT_MS)

        # Typed clock times are accepted; the window between them is shaded on the timeline.
        page.fill("#trim-start", "00:00:01.250")
        page.fill("#trim-end", "00:00:10.250")
        box = page.locator("#timeline").bounding_box()
        shaded = page.locator("#timeline-window").bounding_box()
        assert shaded["x"] - box["x"] == pytest.approx(box["width"] * 1.25 / 12, abs=2)
        assert shaded["width"] == pytest.approx(box["width"] * 9 / 12, abs=2)
        shot(page, f"trim-window-{width_name}", full_page=False)

        # While the trim runs, its bar is beside the button, in view; every state it showed is kept.
        page.evaluate(
            """() => {
                window.besideSeen = []
                new MutationObserver(() => {
                    const bar = document.querySelector('#trim-progress progress')
                    if (!bar) return
                    const box = bar.getBoundingClientRect()
                    window.besideSeen.push({
                        value: bar.value, inView: box.top >= 0 && box.bottom <= innerHeight,
                        status: document.querySelector('#trim-progress').className,
                    })
                }).observe(document.querySelector('#trim-progress'), { childList: true, subtree: true })
            }"""
        )
        page.select_option("#trim-form select[name=mode]", "precise")
        page.click("#trim-form button[type=submit]")
        page.wait_for_selector("#trim-progress.status-finished", timeout=WAIT_MS)
        seen = page.evaluate("window.besideSeen")
        running = [state for state in seen if "status-finished" not in state["status"]]
        assert running and all(state["inView"] for state in seen), seen
        assert page.inner_text("#tasks li:first-child .kind") == f"trim of {source.name}"
        shot(page, f"trim-finished-{width_name}", full_page=False)

        # The finished task opens its result.
        page.click("#trim-progress button.open-result")
        page.wait_for_function(
            f"document.querySelector('#viewer-name').textContent !== '{source.name}'", timeout=WAIT_MS
        )
        result = requests.get(
            f"{live_server.url}/api/videos/", headers={"Authorization": f"Token {token}"}, timeout=10
        ).json()["results"][0]
        assert page.inner_text("#viewer-name") == result["name"] and result["source"] == "trim"
        assert result["duration"] == pytest.approx(9.0, abs=0.05)

        # The merge list empties once a merge is sent; a share link's Copy puts it on the clipboard.
        page.click("#add-to-merge")
        page.click("#add-to-merge")
        page.click("#merge")
        page.wait_for_function("document.querySelectorAll('#merge-list li').length === 0")
        page.wait_for_selector("#merge-progress.status-finished", timeout=WAIT_MS)
        page.click("#share-form button[type=submit]")
        page.wait_for_selector("#shares tbody tr button.copy")
        page.click("#shares tbody tr button.copy")
        page.wait_for_selector("#shares tbody tr button.copy:has-text('Copied')")
        link = page.get_attribute("#shares tbody tr a", "href")
        assert page.evaluate("navigator.clipboard.readText()") == link
        shot(page, f"merged-and-shared-{width_name}", full_page=False)


@pytest.mark.parametrize("width_name", list(VIEWPORTS))
def test_a_rejected_upload_is_marked_failed_in_uppy_and_can_be_deleted(
    live_server, make_user, tmp_path, width_name
):
    username, password, _token = make_user()
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"this is not a video at all " * 4000)
    with chromium(*VIEWPORTS[width_name]) as page:
        sign_in(page, live_server.url, username, password)
        page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files([str(fake)])
        page.click(".uppy-StatusBar-actionBtn--upload")
        page.wait_for_selector(".uppy-StatusBar.is-error", timeout=WAIT_MS)  # not "Upload complete"
        assert page.locator(".uppy-Dashboard-Item.is-error").count() == 1
        assert "Upload complete" not in page.inner_text(".uppy-StatusBar")
        entry = page.locator("#library li", has_text="holiday.mp4")
        reason = "rejected: not a readable video: invalid data found when processing input"
        assert reason in entry.inner_text()
        shot(page, f"rejected-{width_name}", full_page=False)

        entry.locator("button.delete").click()
        page.wait_for_selector("#confirm-delete[open]")
        page.click("#confirm-delete-button")
        page.wait_for_function("!document.querySelector('#library li')")
        assert page.inner_text("#library-empty") == "No videos yet: upload one above."
