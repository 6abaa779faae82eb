"""Request-wide limits (geoplatform/limits.py): a clear 414/413/400 in JSON naming the limit, through
Django's test client and through a real ``geoplatform serve`` (uvicorn) on a port of its own."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from django.test import override_settings

from geoplatform.limits import MAX_JSON_DEPTH, MAX_REQUEST_HEAD_BYTES, MAX_URL_BYTES, json_too_deep
from tests.servers import live_server

BODY_LIMIT = 5 * 2**19  # DATA_UPLOAD_MAX_MEMORY_SIZE's default (GEOPLATFORM_MAX_BODY_BYTES)


def test_url_over_the_limit_gets_414_naming_it(client, db):
    response = client.get("/api/catalog/", {"q": "x" * MAX_URL_BYTES})
    assert response.status_code == 414
    detail = response.json()["detail"]
    assert "longer than the limit of 64 KiB (65,536 bytes)" in detail


def test_url_under_the_limit_is_answered(client, db):
    response = client.get("/healthz", {"pad": "x" * (MAX_URL_BYTES - 100)})
    assert response.status_code == 200


def test_json_body_over_the_limit_gets_413_naming_it(client, db):
    body = json.dumps(["北京市东城区美术馆后街1号"] * 100_000)
    assert len(body.encode()) > BODY_LIMIT
    response = client.post("/api/geocode", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than the limit of 2.5 MiB (2,621,440 bytes)" in response.json()["detail"]


def test_form_body_over_the_limit_gets_413_not_a_bare_html_400(client, db):
    response = client.post("/accounts/login/", "username=" + "x" * BODY_LIMIT,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413 and "limit of 2.5 MiB" in response.json()["detail"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_multipart_form_field_over_the_limit_gets_413(client, department, api_key):
    """A multipart upload may be larger than the body limit; its non-file fields may not (Django's check)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post("/api/layers/companies/versions",
                           {"title": "x" * 5000, "file": SimpleUploadedFile("a.csv", b"name,lon,lat\n")},
                           HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert response.status_code == 413, response.content[:300]
    assert "limit of 1,000 bytes for form fields" in response.json()["detail"]


@pytest.mark.parametrize(("query", "name"), [("q=%00", "q"), ("kind=a%00b", "kind"), ("a%00=1", "a%00")])
def test_nul_in_a_query_parameter_gets_400_naming_it(client, db, query, name):
    response = client.get(f"/api/catalog/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"query parameter {name!r} contains a NUL character (%00)")


def test_nul_in_the_path_gets_400(client, db):
    response = client.get("/api/catalog/ab%00c/")
    assert response.status_code == 400 and "path contains a NUL character" in response.json()["detail"]


def test_deeply_nested_json_gets_400(client, api_key):
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/applications/", deep, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    assert response.status_code == 400
    assert f"nested more than {MAX_JSON_DEPTH} levels deep" in response.json()["detail"]


def test_json_depth_is_measured_without_recursion():
    value: list = []
    for _ in range(10_000):
        value = [value]
    assert json_too_deep(value)
    nested = {"a": [1, {"b": [2]}]}  # object, array, object, array: 4 levels
    assert not json_too_deep(nested, limit=4) and json_too_deep(nested, limit=3)
    assert not json_too_deep("text")


# --- a real server -------------------------------------------------------------------------------------

@pytest.fixture
def server() -> Iterator[int]:
    """The port of a real ``geoplatform serve`` on 127.0.0.1 against the test database."""
    with live_server() as base:
        yield int(base.rsplit(":", 1)[1])


def request(port: int, method: str, target: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        content_type = response.getheader("Content-Type", "")
        return response.status, json.loads(data) if content_type.startswith("application/json") else {}
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_real_server_answers_limits_in_json(server):
    """A ~270 KB URL reached uvicorn's 16 KiB head limit and the connection was reset; now it is a 414."""
    status, body = request(server, "GET", "/api/catalog/?q=" + "x" * 270_000)
    assert status == 414 and "limit of 64 KiB" in body["detail"]
    assert 270_000 < MAX_REQUEST_HEAD_BYTES

    status, body = request(server, "POST", "/api/geocode", b"[" + b'"a",' * 700_000 + b'"a"]',
                           {"Content-Type": "application/json"})
    assert status == 413 and "limit of 2.5 MiB" in body["detail"]

    status, body = request(server, "GET", "/api/catalog/?q=%00")
    assert status == 400 and "NUL character" in body["detail"]

    status, _ = request(server, "GET", "/healthz?pad=" + "x" * 60_000)  # under the limit: served
    assert status == 200


@pytest.mark.django_db(transaction=True)
def test_a_body_beyond_the_largest_upload_is_refused_before_it_is_buffered(tmp_path):
    """The WSGI bridge holds a body in memory: one announced or streamed past every endpoint's limit gets a 413
    at once (the server does not wait for, or keep, the rest)."""
    import socket

    env = {"GEOPLATFORM_LAYERS_MAX_UPLOAD_MB": "1", "GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES": str(2**20),
           "GEOPLATFORM_MAX_BODY_BYTES": str(2**20)}
    with live_server(env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # announced: 50 MB, none sent
            sock.sendall(b"POST /api/layers/roads/versions HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Content-Length: 50000000\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            answer = answer.decode()
        assert answer.startswith("HTTP/1.1 413") and "1 MiB (1,048,576 bytes)" in answer
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # streamed (chunked): cut off at the limit
        try:
            conn.request("POST", "/api/geocode/jobs/", body=(b"x" * 65536 for _ in range(64)),
                         headers={"Content-Type": "text/csv"}, encode_chunked=True)
            response = conn.getresponse()
            assert response.status == 413 and "larger than the largest upload" in json.loads(response.read())["detail"]
        except (BrokenPipeError, ConnectionResetError):
            pytest.fail("the server closed the connection instead of answering 413")
        finally:
            conn.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # within the limit: the view answers
            sock.sendall(b"POST /api/geocode HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 2\r\nConnection: close\r\n\r\n[]")
            assert sock.recv(65536).decode().startswith("HTTP/1.1 401")
