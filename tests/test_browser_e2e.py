"""The page in real headless Chromium: upload two videos through Uppy, see their posters, play one,
trim it from the player, merge in a chosen order, share and revoke, delete; and a share played
through HLS with hls.js. Screenshots of each step go to test-output/.

Playwright drives Debian's Chromium (`executable_path`); it never downloads a browser build.
"""

from __future__ import annotations

import pytest
import requests

from tests.api import share, upload
from tests.browser import PAGE_TEST_MARKS, WAIT_MS, chromium, shot, sign_in
from tests.hls import ready_ladder
from tests.media import make_video
from tests.servers import auth

pytestmark = PAGE_TEST_MARKS
RECORD_PROGRESS = """() => {
    window.progressShown = []
    new MutationObserver(() => {
        const bar = document.querySelector('#tasks li progress')
        if (bar) window.progressShown.push(bar.value)
    }).observe(document.querySelector('#tasks'), { childList: true, subtree: true })
}"""


def videos(server, token: str) -> list[dict]:
    return requests.get(f"{server.url}/api/videos/", headers=auth(token), timeout=10).json()["results"]


def test_the_page_from_upload_to_delete(live_server, live_worker, make_user, media_dir):
    username, password, token = make_user()
    first = make_video(media_dir / "first.mp4", seconds=3, size="320x240")
    second = make_video(media_dir / "second.mp4", seconds=2, size="320x240", pattern="smptebars")
    with chromium() as page:
        sign_in(page, live_server.url, username, password)
        # Empty sections say so.
        assert page.inner_text("#library-empty") == "No videos yet: upload one above."
        assert page.is_visible("#merge-empty") and page.is_visible("#tasks-empty")

        # Upload two videos through Uppy; their posters appear in the list.
        page.locator("input.uppy-Dashboard-input[type=file]").first.set_input_files([str(first), str(second)])
        page.click(".uppy-StatusBar-actionBtn--upload")
        page.wait_for_function(
            "[...document.querySelectorAll('#library img')].filter(i => i.complete && i.naturalWidth > 0)"
            ".length === 2",
            timeout=WAIT_MS,
        )
        assert sorted(page.locator("#library .name").all_inner_texts()) == ["first.mp4", "second.mp4"]
        shot(page, "1-uploaded")

        # Play the first one.
        page.locator("#library li", has_text="first.mp4").click()
        page.wait_for_function("document.querySelector('#player').readyState >= 2", timeout=WAIT_MS)
        assert page.inner_text("#viewer-name") == "first.mp4"
        page.evaluate("document.querySelector('#player').play()")
        page.wait_for_function("document.querySelector('#player').currentTime > 0.2", timeout=WAIT_MS)
        page.evaluate("document.querySelector('#player').pause()")
        shot(page, "2-playing")

        # Set start and end from the playhead: `i` on the keyboard, then the End button.
        seek(page, 0.5)
        page.locator("#player").focus()
        page.keyboard.press("i")
        seek(page, 2.0)
        page.click("#set-end")
        assert page.input_value("#trim-start") == "0.500"
        assert page.input_value("#trim-end") == "2.000"
        page.wait_for_selector("#timeline[data-storyboard=ready]", timeout=WAIT_MS)  # made on first request
        page.hover("#timeline", position={"x": 30, "y": 10})  # the storyboard's preview of that moment
        page.wait_for_function(
            "document.querySelector('#preview .picture').style.backgroundImage.startsWith('url(')"
        )
        shot(page, "3-window-set")

        # Trim: the task's bar runs to the end (every value it showed is recorded), the new video
        # appears and plays.
        page.evaluate(RECORD_PROGRESS)
        page.click("#trim-form button[type=submit]")
        page.wait_for_selector("#tasks li.status-finished", timeout=WAIT_MS)
        shown = page.evaluate("window.progressShown")
        assert shown[0] < 1 and shown[-1] == 1 and shown == sorted(shown), shown
        page.wait_for_selector("#library li:nth-child(3) img", timeout=WAIT_MS)
        trimmed = next(v for v in videos(live_server, token) if v["source"] == "trim")
        assert trimmed["duration"] == pytest.approx(1.5, abs=0.05)
        page.locator(f"#library li[data-id='{trimmed['id']}']").click()
        page.wait_for_function("document.querySelector('#player').readyState >= 2", timeout=WAIT_MS)
        shot(page, "4-trimmed")

        # Merge: second before first, by dragging first below second.
        by_name = {v["name"]: v["id"] for v in videos(live_server, token)}
        for name in ("first.mp4", "second.mp4"):
            page.locator("#library li", has_text=name).first.click()
            page.wait_for_function(f"document.querySelector('#viewer-name').textContent === '{name}'")
            page.click("#add-to-merge")
        wanted = [by_name["second.mp4"], by_name["first.mp4"]]
        for _attempt in range(6):  # a synthetic drag can miss when a busy box lays out meanwhile
            page.locator("#merge-list li").nth(0).drag_to(
                page.locator("#merge-list li").nth(1), target_position={"x": 5, "y": 30}
            )
            order = page.eval_on_selector_all("#merge-list li", "items => items.map(i => i.dataset.id)")
            if order == wanted:
                break
        assert order == wanted
        shot(page, "5-merge-order")
        page.click("#merge")
        # The merge list empties once the merge is queued (a second click cannot merge them again).
        page.wait_for_function("document.querySelectorAll('#merge-list li').length === 0")
        assert page.is_visible("#merge-empty")
        page.wait_for_function(
            "document.querySelectorAll('#tasks li.status-finished').length === 2", timeout=WAIT_MS
        )
        merged = next(v for v in videos(live_server, token) if v["source"] == "merge")
        assert merged["duration"] == pytest.approx(5.0, abs=0.1)
        assert page.inner_text("#tasks li:first-child .kind") == "merge of 2 videos"

        # Share the first video, see the link listed, revoke it: it answers 410.
        page.locator("#library li", has_text="first.mp4").first.click()
        page.wait_for_function("document.querySelector('#viewer-name').textContent === 'first.mp4'")
        page.click("#share-form button[type=submit]")
        page.wait_for_selector("#shares tbody tr")
        link = page.get_attribute("#shares tbody tr a", "href")
        assert page.inner_text("#shares tbody tr .state") == "active"
        assert requests.get(link, timeout=10).status_code == 200
        page.click("#shares tbody tr button.copy")  # the link lands on the clipboard
        page.wait_for_selector("#shares tbody tr button.copy:has-text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()") == link
        shot(page, "6-shared")
        page.click("#shares tbody tr button.revoke")
        page.wait_for_function("document.querySelector('#shares tbody tr .state').textContent === 'revoked'")
        assert requests.get(link, timeout=10).status_code == 410
        shot(page, "7-revoked")

        # Delete it, after confirming.
        page.click("#delete-video")
        page.wait_for_selector("#confirm-delete[open]")
        shot(page, "8-confirm-delete")
        page.click("#confirm-delete-button")
        page.wait_for_function(f"!document.querySelector(\"#library li[data-id='{by_name['first.mp4']}']\")")
        shot(page, "9-deleted")
        assert by_name["first.mp4"] not in {v["id"] for v in videos(live_server, token)}

        # An API error shows its sentence: trim a window the video does not have.
        page.locator("#library li", has_text="second.mp4").first.click()
        page.fill("#trim-start", "1")
        page.fill("#trim-end", "9")
        page.click("#trim-form button[type=submit]")
        page.wait_for_selector("#app-error:has-text('beyond the video')")


def seek(page, seconds: float) -> None:
    page.evaluate(
        """(seconds) => new Promise((resolve) => {
            const player = document.querySelector('#player')
            player.addEventListener('seeked', resolve, { once: true })
            player.currentTime = seconds
        })""",
        seconds,
    )


def test_the_page_fits_a_phone(live_server, make_user):
    username, password, _token = make_user()
    with chromium(width=390, height=844) as page:
        sign_in(page, live_server.url, username, password)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # Empty sections say so on a phone too.
        assert page.inner_text("#library-empty") == "No videos yet: upload one above."
        assert page.is_visible("#merge-empty") and page.is_visible("#tasks-empty")
        shot(page, "phone")


def test_a_share_plays_through_hls_in_chromium(live_server, live_worker, make_user, media_dir):
    token = make_user()[2]
    clip = make_video(media_dir / "streamed.mp4", seconds=20, gop=60)
    video = upload(live_server, token, clip)
    link = share(live_server, token, video["id"], 600).json()["url"]
    # Made before the recipient comes: a share opened while its ladder is still being made plays
    # the file (by design), and on a loaded machine that can outlast hls.js's manifest retries.
    ready_ladder(live_server, token, video["id"])
    with chromium() as page:
        segments = []
        page.on("response", lambda response: ".m4s" in response.url and segments.append(response.url))
        page.goto(link)  # what a recipient opens: the share page, not the bytes
        assert page.title() == "streamed.mp4"
        page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=WAIT_MS)
        page.evaluate("(v => { v.muted = true; v.playbackRate = 4 })(document.querySelector('#player'))")
        page.evaluate("document.querySelector('#player').play()")
        page.wait_for_function("document.querySelector('#player').ended", timeout=WAIT_MS)
        source = page.evaluate("document.querySelector('#player').currentSrc")
        assert source.startswith("blob:"), source  # hls.js streaming (Media Source), not the file
        assert page.evaluate("document.querySelector('#player').currentTime") == pytest.approx(20, abs=0.5)
        assert len(segments) >= 2, segments
        shot(page, "hls-share")


def test_a_shares_ladder_switches_rung_in_chromium_when_the_network_is_throttled(
    live_server, live_worker, make_user, media_dir
):
    """854x480 H.264 at 3 Mbit/s: the source on top, 360p below. On a network throttled to
    1.2 Mbit/s hls.js plays 360p; with the network back it climbs to the top rung."""
    token = make_user()[2]
    clip = make_video(media_dir / "ladder-switch.mp4", seconds=60, size="854x480", pattern="testsrc2", gop=30,
                      encoder_args=("-preset", "ultrafast", "-b:v", "3M"))  # fmt: skip
    video = upload(live_server, token, clip)
    link = share(live_server, token, video["id"], 600).json()["url"]
    ready_ladder(live_server, token, video["id"])
    with chromium() as page:
        network = page.context.new_cdp_session(page)
        network.send("Network.enable")
        slow = {"offline": False, "latency": 40, "downloadThroughput": 150_000, "uploadThroughput": 150_000}
        network.send("Network.emulateNetworkConditions", slow)
        page.goto(link)
        page.wait_for_function("window.hlsPlayer && window.hlsPlayer.levels.length === 2", timeout=WAIT_MS)
        page.evaluate("""() => {
            window.loadedLevels = []
            const hls = window.hlsPlayer
            hls.on(window.Hls.Events.FRAG_LOADED, (_e, { frag }) => {
                if (frag.type === 'main') window.loadedLevels.push(frag.level)
            })
            const v = document.querySelector('#player'); v.muted = true; v.playbackRate = 2; v.play()
        }""")
        top = page.evaluate("window.hlsPlayer.levels.findIndex(l => l.height === 480)")
        page.wait_for_function("window.loadedLevels.length >= 1", timeout=WAIT_MS)
        assert top not in page.evaluate("window.loadedLevels")  # throttled: the lower rung
        # The network back: hls.js's estimate climbs over a few fragments (each sample weighs as
        # long as its load took), so the video has enough of them left to switch on.
        fast = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        network.send("Network.emulateNetworkConditions", fast)
        page.wait_for_function(f"window.loadedLevels.includes({top})", timeout=WAIT_MS)
        shot(page, "hls-ladder-switched")
