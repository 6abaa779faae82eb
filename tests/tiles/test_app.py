"""The imagery service's ASGI app starts and answers its health check."""

from fastapi.testclient import TestClient

from tiles.app import app


def test_tiles_healthz_reports_gdal():
    body = TestClient(app).get("/tiles/healthz").json()
    assert body["status"] == "ok" and body["gdal"].startswith("3.")
