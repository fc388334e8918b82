"""Share links over loopback: signed, expiring, revocable, ranged, and private to their owner."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from markupsafe import escape  # as the page template escapes

from storage.signing import ShareSigner
from tests.api import share, upload
from tests.servers import auth


@pytest.fixture
def owner(make_user) -> str:
    return make_user()[2]


@pytest.fixture
def video(live_server, owner, sample_video) -> dict:
    return upload(live_server, owner, sample_video, name="Sommer Ferien 2024 ü.mp4")


def test_link_works_without_auth_with_ranges(live_server, owner, video, sample_video):
    created = share(live_server, owner, video["id"], 600)
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"id", "url", "expires_at"}
    assert body["url"].startswith(live_server.url + "/s/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=601)

    source = sample_video.read_bytes()
    whole = requests.get(body["url"], timeout=10)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(source).digest()
    assert whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "private" in whole.headers["Cache-Control"]
    assert whole.headers["ETag"]
    disposition = whole.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "/" not in disposition

    part = requests.get(body["url"], headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == source[1000:2000]
    beyond = requests.get(body["url"], headers={"Range": f"bytes={len(source)}-"}, timeout=10)
    assert beyond.status_code == 416
    for unsupported in ("bytes=0-1,5-6", "chars=0-1", "bytes=banana"):  # RFC 9110: ignored, whole body
        ignored = requests.get(body["url"], headers={"Range": unsupported}, timeout=10)
        assert ignored.status_code == 200 and ignored.content == source, unsupported
    head = requests.head(body["url"], timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(source) and not head.content


def test_link_expires_at_its_time(client, live_server, owner, video, monkeypatch):
    """The server's clock is moved, not waited for: the link lives until `expires_at`, no longer."""
    import server.shares

    link = share(live_server, owner, video["id"], 600).json()
    path = urlsplit(link["url"]).path
    expires_at = datetime.fromisoformat(link["expires_at"]).astimezone(UTC).replace(tzinfo=None)
    monkeypatch.setattr(server.shares, "utcnow", lambda: expires_at - timedelta(seconds=1))
    assert client.get(path).status_code == 200
    monkeypatch.setattr(server.shares, "utcnow", lambda: expires_at)
    response = client.get(path)
    assert response.status_code == 410 and response.json["error"] == "link_expired"


def test_tampered_and_foreign_key_tokens_are_404(live_server, owner, video):
    body = share(live_server, owner, video["id"], 600).json()
    token = body["url"].rsplit("/", 1)[1]
    for position in range(len(token)):  # every single-character change, the spare bits of base64 included
        for replacement in "AB":
            if token[position] == replacement:
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            response = requests.get(f"{live_server.url}/s/{changed}", timeout=10)
            assert response.status_code == 404, (position, replacement)
    assert set(response.json()) == {"error", "detail"}
    forged = ShareSigner("some-other-key", []).token(
        uuid.UUID(body["id"]), datetime.now() + timedelta(hours=1)
    )
    assert requests.get(f"{live_server.url}/s/{forged}", timeout=10).status_code == 404
    assert requests.get(f"{live_server.url}/s/not-a-token", timeout=10).status_code == 404


def test_revoked_is_410_at_once_and_listed(live_server, owner, video):
    body = share(live_server, owner, video["id"], 600).json()
    listed = requests.get(f"{live_server.url}/api/videos/{video['id']}/shares/", headers=auth(owner)).json()
    assert [s["id"] for s in listed["results"]] == [body["id"]] and listed["results"][0]["url"] == body["url"]
    assert (
        requests.delete(f"{live_server.url}/api/shares/{body['id']}/", headers=auth(owner)).status_code == 204
    )
    response = requests.get(body["url"], timeout=10)
    assert response.status_code == 410 and response.json()["error"] == "link_revoked"
    listed = requests.get(f"{live_server.url}/api/videos/{video['id']}/shares/", headers=auth(owner)).json()
    assert listed["results"][0]["revoked"] is True


def test_other_users_cannot_share_list_or_revoke(live_server, owner, video, make_user):
    other = make_user()[2]
    body = share(live_server, owner, video["id"], 600).json()
    assert share(live_server, other, video["id"], 600).status_code == 404
    assert (
        requests.get(f"{live_server.url}/api/videos/{video['id']}/shares/", headers=auth(other)).status_code
        == 404
    )
    assert (
        requests.delete(f"{live_server.url}/api/shares/{body['id']}/", headers=auth(other)).status_code == 404
    )
    assert requests.get(body["url"], timeout=10).status_code == 200
    assert (
        requests.post(
            f"{live_server.url}/api/videos/{video['id']}/share/", json={"expiry_time": 5}
        ).status_code
        == 401
    )


@pytest.mark.parametrize(
    "expiry",
    [0, -5, 10**9, "soon", None, "2000-01-01T00:00:00Z", 1e12, -1e300, 10**400, True, "NaN", "Infinity",
     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-10:00", [], {}],
)  # fmt: skip
def test_bad_expiry_is_400(live_server, owner, video, expiry):
    response = share(live_server, owner, video["id"], expiry)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "detail"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_expiry_is_400(live_server, owner, video, literal):
    """Python's JSON parser accepts these literals; they must not reach date arithmetic."""
    response = requests.post(
        f"{live_server.url}/api/videos/{video['id']}/share/",
        headers={**auth(owner), "Content-Type": "application/json"},
        data=f'{{"expiry_time": {literal}}}',
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text


def test_iso_datetime_expiry(live_server, owner, video):
    moment = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    body = share(live_server, owner, video["id"], moment.isoformat()).json()
    assert datetime.fromisoformat(body["expires_at"]) == moment


def test_deleting_the_video_kills_its_links(live_server, owner, video):
    url = share(live_server, owner, video["id"], 600).json()["url"]
    assert (
        requests.delete(f"{live_server.url}/api/videos/{video['id']}/", headers=auth(owner)).status_code
        == 204
    )
    assert requests.get(url, timeout=10).status_code == 404


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_a_browser_gets_a_page_and_everything_else_the_bytes(live_server, make_user, sample_video):
    username, _password, token = make_user()
    video = upload(live_server, token, sample_video, name='Holiday <2026> & "friends".mp4')
    link = share(live_server, token, video["id"], 600).json()["url"]
    page = requests.get(link, headers={"Accept": BROWSER_ACCEPT}, timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "<video" in html and 'property="og:title"' in html and 'property="og:image"' in html
    assert "<2026>" in video["name"] and escape(video["name"]) in html and "<2026>" not in html  # escaped
    assert f'content="{link}/thumbnail.jpg"' in html and f"{link}/hls.m3u8" in html
    assert username not in html and token not in html  # nothing of the owner
    assert requests.get(f"{link}/thumbnail.jpg", timeout=60).headers["Content-Type"] == "image/jpeg"
    assert requests.get(live_server.url + "/static/vendor/hls.js/hls.min.js", timeout=30).status_code == 200
    for accept in (None, "*/*", "application/json", "video/*"):
        got = requests.get(link, headers={"Accept": accept} if accept else {}, timeout=30)
        assert got.status_code == 200 and got.content == sample_video.read_bytes(), accept
    download = requests.get(f"{link}?download=1", timeout=30)
    assert download.headers["Content-Disposition"].startswith("attachment")

    share_id = requests.get(f"{live_server.url}/api/videos/{video['id']}/shares/", headers=auth(token),
                            timeout=10).json()["results"][0]["id"]  # fmt: skip
    assert (
        requests.delete(f"{live_server.url}/api/shares/{share_id}/", headers=auth(token)).status_code == 204
    )
    gone = requests.get(link, headers={"Accept": BROWSER_ACCEPT}, timeout=30)
    assert gone.status_code == 410 and gone.headers["Content-Type"].startswith("text/html")
    assert "no longer shared" in gone.text and "revoked" in gone.text
    as_json = requests.get(link, headers={"Accept": "application/json"}, timeout=30)
    assert as_json.status_code == 410 and as_json.json()["error"] == "link_revoked"
