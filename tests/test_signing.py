import uuid
from datetime import datetime

import pytest

from storage.signing import InvalidShareToken, ShareSigner, generated_key


def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped():
    share_id, expires = uuid.uuid4(), datetime(2030, 1, 1, 12, 0, 0)
    old_token = ShareSigner("old-key", []).token(share_id, expires)
    rotated = ShareSigner("new-key", ["old-key"])
    assert rotated.verify(old_token) == (share_id, expires)
    assert rotated.token(share_id, expires) != old_token  # new links use the new key
    with pytest.raises(InvalidShareToken):
        ShareSigner("new-key", []).verify(old_token)


def test_the_generated_key_lives_in_the_database(tmp_path, scratch_database):
    """One key for every host, created once however many processes race for it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: generated_key(tmp_path / "absent"), range(16)))
    assert len(keys) == 1 and len(keys.pop()) > 40


def test_a_key_from_data_share_secret_is_adopted(tmp_path, scratch_database):
    """Links signed by an earlier version (key in data/share-secret) keep working after upgrade."""
    legacy = tmp_path / "share-secret"
    legacy.write_text("the-key-an-earlier-version-made\n")
    assert generated_key(legacy) == "the-key-an-earlier-version-made"
    legacy.write_text("a later file changes nothing")
    assert generated_key(legacy) == "the-key-an-earlier-version-made"


def test_x_accel_redirect_hands_the_file_to_nginx(data_dir, redis_server, database, make_user, sample_video):
    from server import create_app
    from tests.conftest import make_config
    from tests.servers import auth

    client = create_app(
        make_config(data_dir, redis_server.url, server_x_accel_redirect="/protected/")
    ).test_client()
    _, _, token = make_user()
    with open(sample_video, "rb") as handle:
        video = client.post(
            "/api/videos/upload/", headers=auth(token), data={"file": (handle, "a.mp4")}
        ).get_json()
    response = client.get(f"/api/videos/{video['id']}/download/", headers=auth(token))
    assert response.status_code == 200 and response.data == b""
    assert (
        response.headers["X-Accel-Redirect"] == f"/protected/{video['id'].replace('-', '')[:2]}/{video['id']}"
    )
