"""An HTTP publish cut off mid-upload leaves the previous version exactly as it was, and nothing behind.

A real server (`geoplatform serve`, on the fuzz engineer's port or a free one) receives a multipart
upload from a raw socket that sends the headers and part of the body, then closes the connection.
The layer's current version, its rows (every column, including history) and its catalog entry must
be unchanged, no temporary upload may be left in the server's temp folder, and the server must then
publish a complete upload of the same file as the next version.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from django.db import connection

from catalog.keys import create_api_key
from catalog.models import Entry
from geoplatform.layers.models import Layer
from geoplatform.layers.publish import PublishRequest, publish_version
from tests.layers.conftest import write_points

PORT = 18650
BOUNDARY = "----geoplatform-cut-upload"


def free_port() -> int:
    """The slice's own port when it is free (so two engineers' runs do not meet), else any free one."""
    for port in (PORT, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise AssertionError("no free port")


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgresql://{s['USER']}{password}@{s['HOST'].replace('/', '%2F')}:{s['PORT']}/{s['NAME']}"


def multipart(path, **fields) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                 "Content-Type: application/geo+json\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def request_head(port: int, key: str, length: int) -> bytes:
    return (f"POST /api/layers/companies/versions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def layer_state() -> dict:
    """Everything a publish could change: the layer's versions, its entry and every stored row."""
    layer = Layer.objects.get(slug="companies")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(t)::text FROM {layer.table} AS t ORDER BY gp_fid, gp_vfrom")
        rows = [r[0] for r in cursor.fetchall()]
    entry = Entry.objects.get(slug="companies")
    return {"current": layer.current_version, "versions": list(layer.versions.values_list("number", flat=True)),
            "rows": rows, "feature_count": entry.feature_count, "published": entry.last_published_at}


def big_points(path, count: int):
    """A GeoJSON of ``count`` points (several MB: streamed by Django to a temporary file, not memory)."""
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.3 + i * 1e-6, 39.9]},
                 "properties": {"code": f"C{i}", "name": f"企业{i}", "staff": i}} for i in range(count)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


@pytest.fixture
def server(tmp_path):
    """`geoplatform serve` on the test database, its temp folder and log in ``tmp_path``."""
    port = free_port()
    temp, log = tmp_path / "server-tmp", tmp_path / "server.log"
    temp.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url(), "GEOPLATFORM_LOG_LEVEL": "WARNING", "TMPDIR": str(temp)}
    with open(log, "wb") as err:
        process = subprocess.Popen(["geoplatform", "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                assert response.status == 200
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
    yield port, temp, log
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:  # a request still hangs: kill it, or its lock blocks the database flush
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def publish_over_http(port: int, key: str, body: bytes, timeout: float) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/layers/companies/versions", data=body,
                                     method="POST", headers={"Authorization": f"Bearer {key}",
                                                             "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.status == 201
        return json.loads(response.read())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sent", [0.0, 0.5, 0.999])  # headers only, half the body, all but the last bytes
def test_publish_cut_off_mid_upload_leaves_the_previous_version(server, department, tmp_path, sent):
    port, temp, log = server
    key = create_api_key(department, "publisher")[1]
    publish_version(write_points(tmp_path / "v1.gpkg"), PublishRequest(owner=department, slug="companies",
                                                                       key="code", title="企业"))
    before = layer_state()
    body = multipart(big_points(tmp_path / "v2.geojson", 40_000), key="code")
    assert len(body) > 4 * 2**20

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head(port, key, len(body)) + body[:int(len(body) * sent)])
        time.sleep(0.5)  # the server is reading the body when the client goes away
    deadline = time.monotonic() + 30
    while "versions" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.2)  # until the server has given up on the request (it logs the refused request)
    time.sleep(0.5)

    assert layer_state() == before
    assert list(temp.iterdir()) == [], "the partial upload is not left on disk"
    # A complete upload then publishes the next version: nothing was left locked or half-done.
    small = multipart(write_points(tmp_path / "v2.gpkg", codes=("A1", "A2", "A9")), key="code")
    assert publish_over_http(port, key, small, timeout=60)["version"] == 2
    assert layer_state()["current"] == 2


@pytest.mark.django_db(transaction=True)
def test_whole_file_update_over_http_after_a_cut_upload_completes(server, department, tmp_path):
    port, temp, log = server
    key = create_api_key(department, "publisher")[1]
    publish_version(write_points(tmp_path / "v1.gpkg"), PublishRequest(owner=department, slug="companies",
                                                                       key="code", title="企业"))
    body = multipart(big_points(tmp_path / "v2.geojson", 40_000), key="code")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_head(port, key, len(body)) + body[:int(len(body) * 0.999)])
        time.sleep(0.5)
    assert publish_over_http(port, key, body, timeout=30)["version"] == 2
    assert layer_state()["feature_count"] == 40_000
