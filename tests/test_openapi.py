"""The OpenAPI document validates and lists every route of the contract."""

import re

from openapi_spec_validator import validate

CONTRACT = {
    "/api-token-auth/": {"post"},
    "/api/videos/upload/": {"post"},
    "/api/videos/": {"get"},
    "/api/videos/{video_id}/": {"get", "delete"},
    "/api/videos/{video_id}/download/": {"get"},
    "/api/videos/chunked_upload/": {"post", "options"},
    "/api/videos/chunked_upload/{upload_id}": {"head", "patch", "delete", "options"},
    "/api/videos/{video_id}/trim/": {"post"},
    "/api/videos/merge/": {"post"},
    "/api/videos/{video_id}/share/": {"post"},
    "/api/videos/{video_id}/shares/": {"get"},
    "/api/shares/{share_id}/": {"delete"},
    "/s/{token}": {"get", "head"},
    "/api/videos/tasks/{task_id}/status/": {"get"},
    "/health": {"get"},
}
PUBLIC = {
    ("/api-token-auth/", "post"),
    ("/s/{token}", "get"),
    ("/s/{token}", "head"),
    ("/health", "get"),
    ("/api/videos/chunked_upload/", "options"),
    ("/api/videos/chunked_upload/{upload_id}", "options"),
}


def test_document_is_valid_and_complete(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, set(spec["paths"][path]))
    for path, methods in CONTRACT.items():
        for method in methods:
            security = spec["paths"][path][method].get("security")
            if (path, method) in PUBLIC:
                assert not security, (path, method)
            else:
                assert security == [{"BearerAuth": []}], (path, method)
    trim_body = spec["paths"]["/api/videos/{video_id}/trim/"]["post"]["requestBody"]
    assert "application/json" in trim_body["content"]


def test_docs_page_uses_local_assets(client):
    html = client.get("/api/docs").get_data(as_text=True)
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in loaded
    assert not [url for url in loaded if "://" in url]
