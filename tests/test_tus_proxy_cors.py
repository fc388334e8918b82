"""tus behind a proxy and from browsers: forwarded Location, CORS exposing every tus header."""

from server import create_app
from tests.conftest import make_config
from tests.servers import auth

TUS = {"Tus-Resumable": "1.0.0", "Upload-Length": "5"}


def test_location_honours_forwarded_headers_only_when_trusted(data_dir, redis_server, database, make_user):
    token = make_user()[2]
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "videos.example.com"}
    trusted = create_app(make_config(data_dir, redis_server.url, server_trust_proxy="true")).test_client()
    response = trusted.post("/api/videos/chunked_upload/", headers={**auth(token), **TUS, **forwarded})
    assert response.status_code == 201
    assert response.headers["Location"].startswith("https://videos.example.com/api/videos/chunked_upload/")

    untrusted = create_app(make_config(data_dir, redis_server.url)).test_client()
    response = untrusted.post("/api/videos/chunked_upload/", headers={**auth(token), **TUS, **forwarded})
    assert response.headers["Location"].startswith("http://localhost/api/videos/chunked_upload/")

    public = create_app(
        make_config(data_dir, redis_server.url, server_public_url="https://cdn.example")
    ).test_client()
    response = public.post("/api/videos/chunked_upload/", headers={**auth(token), **TUS})
    assert response.headers["Location"].startswith("https://cdn.example/api/videos/chunked_upload/")


def test_cors_preflight_and_exposed_headers(client, make_user):
    preflight = client.options(
        "/api/videos/chunked_upload/",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, tus-resumable, upload-offset, content-type, "
            "upload-checksum, x-http-method-override",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://app.example")
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    for header in (
        "authorization",
        "tus-resumable",
        "upload-offset",
        "upload-checksum",
        "x-http-method-override",
    ):
        assert header in allowed
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]

    token = make_user()[2]
    created = client.post(
        "/api/videos/chunked_upload/", headers={**auth(token), **TUS, "Origin": "https://app.example"}
    )
    exposed = {h.strip().lower() for h in created.headers["Access-Control-Expose-Headers"].split(",")}
    assert {
        "location",
        "upload-offset",
        "upload-length",
        "upload-metadata",
        "upload-expires",
        "tus-resumable",
        "tus-version",
        "tus-extension",
        "tus-max-size",
        "upload-concat",
    } <= exposed
