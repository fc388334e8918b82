"""What APIFlask cannot infer for the OpenAPI document: raw bodies (multipart upload, tus PATCH,
login as JSON or form) and the HEAD/OPTIONS operations of the tus protocol and share links."""

from __future__ import annotations

from typing import Any

from server.tus.protocol import OFFSET_CONTENT_TYPE

TUS = "/api/videos/chunked_upload/"
TUS_UPLOAD = TUS + "{upload_id}"


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"},
            "description": description}  # fmt: skip


TUS_RESUMABLE = _header("Tus-Resumable", "Always 1.0.0", required=True)
UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
BEARER = [{"BearerAuth": []}]
BINARY = {"type": "string", "format": "binary"}
LOGIN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}},
}


def complete_spec(spec: dict[str, Any]) -> dict[str, Any]:
    paths = spec["paths"]
    paths["/api-token-auth/"]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": LOGIN_BODY},
                    "application/x-www-form-urlencoded": {"schema": LOGIN_BODY}},
    }  # fmt: skip
    paths["/api/videos/upload/"]["post"]["requestBody"] = {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"], "properties": {"file": BINARY},
        }}},
    }  # fmt: skip
    create = paths[TUS]["post"]
    create["parameters"] = [
        TUS_RESUMABLE,
        _header("Upload-Length", "Total size in bytes (or send Upload-Defer-Length: 1)"),
        _header("Upload-Defer-Length", "1 when the size is not known yet"),
        _header(
            "Upload-Metadata", "Comma-separated `key base64value` pairs; filename/name and filetype are used"
        ),
        _header("Upload-Concat", "`partial`, or `final;<upload urls>` to join finished partial uploads"),
    ]
    create["requestBody"] = {"required": False, "content": {OFFSET_CONTENT_TYPE: {"schema": BINARY}}}
    patch = paths[TUS_UPLOAD]["patch"]
    patch["parameters"] = [
        UPLOAD_ID,
        TUS_RESUMABLE,
        _header("Upload-Offset", "Where these bytes go; must equal the current offset", required=True),
        _header("Upload-Checksum", "`sha1|sha256|md5|crc32 base64digest` of this body"),
        _header("Upload-Length", "Sets a deferred length"),
    ]
    patch["requestBody"] = {"required": True, "content": {OFFSET_CONTENT_TYPE: {"schema": BINARY}}}
    paths[TUS_UPLOAD]["head"] = {
        "tags": ["tus resumable upload"],
        "summary": "Offset, length and metadata of an upload (Upload-Offset, Upload-Length, Upload-Metadata)",
        "parameters": [UPLOAD_ID, TUS_RESUMABLE],
        "security": BEARER,
        "responses": {"200": {"description": "Upload state in the headers"},
                      "404": {"description": "No such upload"}, "410": {"description": "Expired"}},
    }  # fmt: skip
    options = {
        "tags": ["tus resumable upload"],
        "summary": "Server capabilities: Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm",
        "security": [],
        "responses": {"204": {"description": "Capabilities in the headers"}},
    }
    paths[TUS]["options"] = options
    paths[TUS_UPLOAD]["options"] = {**options, "parameters": [UPLOAD_ID]}
    paths["/s/{token}"]["head"] = {
        "tags": ["Share links"],
        "summary": "Headers of a shared video (size, type, ETag)",
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
        "security": [],
        "responses": {"200": {"description": "OK"}, "404": {"description": "Unknown or tampered"},
                      "410": {"description": "Expired or revoked"}},
    }  # fmt: skip
    return spec
