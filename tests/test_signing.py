import uuid
from datetime import datetime

import pytest

from server.signing import InvalidShareToken, ShareSigner, _generated_key


def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped():
    share_id, expires = uuid.uuid4(), datetime(2030, 1, 1, 12, 0, 0)
    old_token = ShareSigner("old-key", []).token(share_id, expires)
    rotated = ShareSigner("new-key", ["old-key"])
    assert rotated.verify(old_token) == (share_id, expires)
    assert rotated.token(share_id, expires) != old_token  # new links use the new key
    with pytest.raises(InvalidShareToken):
        ShareSigner("new-key", []).verify(old_token)


def test_generated_key_is_stable_and_private(tmp_path):
    path = tmp_path / "share-secret"
    first = _generated_key(path)
    assert _generated_key(path) == first and len(first) > 40
    assert path.stat().st_mode & 0o777 == 0o600


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
