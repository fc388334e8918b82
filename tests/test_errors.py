"""Every error leaves the app as {"error", "detail"} JSON: Flask's own 404/405/413 included."""

from tests.servers import auth


def test_flask_errors_are_json(client):
    for response, status in [
        (client.get("/no/such/route"), 404),
        (client.put("/api-token-auth/"), 405),
        (client.post("/api-token-auth/", data="{not json", content_type="application/json"), 400),
    ]:
        assert response.status_code == status
        assert set(response.get_json()) == {"error", "detail"}
        assert response.content_type == "application/json"


def test_413_from_content_length(client, make_user, app):
    _, _, token = make_user()
    app.config["MAX_CONTENT_LENGTH"] = 10
    response = client.post("/api/videos/upload/", headers=auth(token), data={"file": (b"x" * 100, "a.mp4")})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert "takes at most 10 bytes" in response.get_json()["detail"]


def test_413_for_a_multipart_body_without_its_boundary(client, make_user):
    """A body that never shows its boundary piles up as one oversized form part."""
    _, _, token = make_user()
    response = client.post(
        "/api/videos/upload/",
        headers=auth(token),
        data=b"x" * 1_000_000,
        content_type="multipart/form-data; boundary=zz",
    )
    assert response.status_code == 413
    assert "malformed" in response.get_json()["detail"]


def test_unexpected_exception_is_500_json_without_traceback(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)


def test_every_client_error_is_answered_by_its_class_and_a_subclass_by_its_base():
    """One handler walks the class hierarchy: an error nobody listed is still answered with its
    base's code and status, never a 500."""
    from server.tus.receiving import UploadInterruptedError
    from storage.uploads import OffsetMismatchError
    from video_manager.errors import ClientError

    class StaleOffsetError(OffsetMismatchError):
        pass

    assert (StaleOffsetError.code, StaleOffsetError.status) == ("offset_mismatch", 409)
    assert StaleOffsetError("the offset moved on").sentence() == "The offset moved on."
    assert issubclass(UploadInterruptedError, ClientError)
