"""`geoplatform serve --workers 2` (Django as WSGI in threads, one SO_REUSEPORT socket per process) answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_serve_pages_api_and_imagery_routes():
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    url = (f"postgresql://{settings['USER']}{password}@{settings['HOST'].replace('/', '%2F')}:{settings['PORT']}/"
           f"{settings['NAME']}")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GEOPLATFORM_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(["geoplatform", "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        assert status == 200
        status, headers = get(base + "/")
        assert status == 200 and headers["Set-Cookie"].startswith("csrftoken=")  # a cookie passes through WSGI
        assert get(base + "/api/me")[0] == 401
        assert get(base + "/tiles/healthz")[0] == 200  # imagery routes still reach the tile service
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
