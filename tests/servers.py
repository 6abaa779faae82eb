"""A real `geoplatform serve` process on the test database, for tests that need the whole HTTP stack
(uvicorn's parsing and access log, several worker processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """libpq URL of the database the test runs on (the server process must see the test's committed rows)."""
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return (f"postgresql://{settings['USER']}{password}@{settings['HOST'].replace('/', '%2F')}:{settings['PORT']}/"
            f"{settings['NAME']}")


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET, HTTP errors included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@contextlib.contextmanager
def live_server(*, workers: int = 1, log: Path | None = None, env: dict | None = None) -> Iterator[str]:
    """Run `geoplatform serve` on a free loopback port until the block ends; yields its base URL.

    With ``log`` the server's stdout and stderr (its application and access logs) go to that file.
    Use inside a ``django_db(transaction=True)`` test so the server sees the test's rows.
    """
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": test_database_url(), "GEOPLATFORM_LOG_LEVEL": "WARNING",
                   **(env or {})}
    output = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
    server = subprocess.Popen(["geoplatform", "serve", "--port", str(port), "--workers", str(workers)],
                              env=environment, stdout=output, stderr=subprocess.STDOUT if log else subprocess.PIPE,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        if log is not None:
            output.close()
