"""`geoplatform serve --workers 2` (Django as WSGI in threads, one SO_REUSEPORT socket per process) answers."""

from __future__ import annotations

import pytest

from tests.servers import get, live_server


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_serve_pages_api_and_imagery_routes():
    with live_server(workers=2) as base:
        assert get(base + "/healthz")[0] == 200
        status, headers, _ = get(base + "/")
        assert status == 200 and headers["Set-Cookie"].startswith("csrftoken=")  # a cookie passes through WSGI
        assert get(base + "/api/me")[0] == 401
        assert get(base + "/tiles/healthz")[0] == 200  # imagery routes still reach the tile service
