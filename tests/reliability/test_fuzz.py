"""Bad input never gets a 5xx: every OpenAPI operation fuzzed by schemathesis, plus hand-made
malformed tus headers. Every error body must be {"error", "detail"}."""

from __future__ import annotations

import itertools

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.servers import auth
from tests.tus import ENDPOINT, V, new_upload

FUZZ_EXAMPLES = 25


@schemathesis.serializer("application/offset+octet-stream")
def _tus_body(_context, value) -> bytes:
    """tus bodies are raw bytes; generated values of any kind are sent as their bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def fuzz_token(live_server) -> str:
    from tests.servers import cli_create_user

    return cli_create_user(live_server.env, "fuzzer")


def assert_well_formed(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400 and response.content:
        assert _content_type(response).startswith("application/json"), response.text[:200]
        assert set(response.json()) == {"error", "detail"}


def _content_type(response) -> str:
    """requests' headers hold strings; schemathesis' hold lists under lower-case names."""
    value = {key.lower(): value for key, value in response.headers.items()}.get("content-type", "")
    return value[0] if isinstance(value, list) else value


def test_every_operation_survives_fuzzing(live_server, fuzz_token):
    """Hypothesis draws requests for each operation from its OpenAPI description (schemathesis)."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)  # fmt: skip
        def survives(case):
            headers = {**(case.headers or {}), **auth(fuzz_token)}
            response = case.call(headers=headers, timeout=30)
            request = response.request
            context = f"{request.method} {request.url} {dict(request.headers)} {str(request.body)[:200]}"
            assert response.status_code < 500, context
            assert_well_formed(response)
            tried[label] = tried.get(label, 0) + 1  # noqa: B023  survives() runs before the next turn

        survives()
    assert len(tried) >= 20, tried  # every operation of the document was exercised
    print(f"fuzzing: {sum(tried.values())} requests over {len(tried)} operations")


NUMBERS = ["-1", "abc", "1.5", "1e9", " ", "99999999999999999999999999", "0x10", "+5", "½", "1 2"]
MALFORMED = [
    *({"Upload-Length": value} for value in NUMBERS),
    {"Upload-Length": "10", "Upload-Metadata": "filename not*base64"},
    {"Upload-Length": "10", "Upload-Metadata": "a YQ==,a YQ=="},
    {"Upload-Length": "10", "Upload-Metadata": "a b c"},
    {"Upload-Length": "10", "Upload-Metadata": ",,,"},
    {
        "Upload-Length": "10",
        "Upload-Metadata": "k \udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
    },
    {"Upload-Defer-Length": "yes"},
    {"Upload-Concat": "final;"},
    {"Upload-Concat": "final;../../etc/passwd"},
    {"Upload-Concat": "final;http://[::1"},
    {"Upload-Concat": "partial", "Upload-Length": "-4"},
]
PATCHES = [
    *({"Upload-Offset": value} for value in NUMBERS),
    {"Upload-Offset": "0", "Upload-Checksum": "sha512 AAAA"},
    {"Upload-Offset": "0", "Upload-Checksum": "sha1"},
    {"Upload-Offset": "0", "Upload-Checksum": "sha1 %%%"},
    {"Upload-Offset": "0", "Upload-Checksum": ""},
    {"Upload-Offset": "0", "Upload-Length": "x"},
    {"Upload-Offset": "0", "Content-Type": "text/plain"},
    {"Upload-Offset": "0", "Trailer": "Upload-Checksum"},
]


def test_malformed_tus_creation_headers(live_server, fuzz_token):
    for headers in MALFORMED:
        try:
            response = requests.post(live_server.url + ENDPOINT, headers={**auth(fuzz_token), **V, **headers},
                                     data=b"abc", timeout=30)  # fmt: skip
        except requests.exceptions.InvalidHeader:
            continue  # the client itself refuses to send it
        assert_well_formed(response)
        assert response.status_code in (400, 412, 413, 415), (headers, response.status_code)


def test_malformed_tus_patch_headers(live_server, fuzz_token):
    url = new_upload(live_server.url, fuzz_token, 100)
    content_type = {"Content-Type": "application/offset+octet-stream"}
    for headers in PATCHES:
        try:
            response = requests.patch(url, headers={**auth(fuzz_token), **V, **content_type, **headers},
                                      data=b"abcd", timeout=30)  # fmt: skip
        except requests.exceptions.InvalidHeader:
            continue  # the client itself refuses to send it
        assert_well_formed(response)
        assert response.status_code in (400, 409, 415, 460), (headers, response.status_code)
    for method, version in itertools.product(["HEAD", "PATCH", "DELETE"], ["", "1.0", "0.2.2", "1.0.0 "]):
        response = requests.request(
            method, url, headers={**auth(fuzz_token), "Tus-Resumable": version}, timeout=30
        )
        assert response.status_code in (412, 200, 204, 400, 409, 415), (method, version, response.status_code)
