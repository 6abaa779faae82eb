"""Publishing over HTTP (multipart, size limit, owner only) and a real client: GDAL's OAPIF driver."""

from __future__ import annotations

import subprocess

import pytest
from rest_framework.test import APIClient

from catalog.keys import create_api_key
from catalog.models import Entry
from tests.layers.conftest import write_points


def client_for(department) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(department, 'app')[1]}")
    return client


def upload(client, path, slug="companies", **fields):
    with path.open("rb") as f:
        return client.post(f"/api/layers/{slug}/versions", {"file": f, **fields}, format="multipart")


def test_owner_publishes_over_http_and_lists_versions(department, tmp_path):
    client = client_for(department)
    response = upload(client, write_points(tmp_path / "p.gpkg"), key="code", title="企业")
    assert response.status_code == 201, response.content
    assert response.json()["feature_count"] == 3
    assert Entry.objects.get(slug="companies").feature_count == 3
    assert upload(client, write_points(tmp_path / "p2.gpkg", codes=("A1", "A2", "A9"))).json()["report"]["diff"] == {
        "added": 1, "changed": 0, "removed": 1}
    versions = client.get("/api/layers/companies/versions").json()
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    restored = client.post("/api/layers/companies/versions/1/restore")
    assert restored.status_code == 201 and restored.json()["restored_from"] == 1


@pytest.mark.parametrize("memory_limit", [0, 10 * 2**20])  # streamed to a temporary file (linked), held in memory
def test_upload_on_disk_or_in_memory_publishes_the_same(department, tmp_path, settings, memory_limit):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = memory_limit
    response = upload(client_for(department), write_points(tmp_path / "p.gpkg"), key="code")
    assert response.status_code == 201, response.content
    assert response.json()["feature_count"] == 3 and response.json()["source"] == "p.gpkg"


def test_bad_upload_is_400_naming_the_problem(department, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text("{not json")
    response = upload(client_for(department), path)
    assert response.status_code == 400 and "cannot be read" in response.json()["detail"]


def test_upload_over_the_size_limit_is_413(department, tmp_path, settings):
    settings.LAYERS_MAX_UPLOAD_BYTES = 1000
    response = upload(client_for(department), write_points(tmp_path / "p.gpkg"))
    assert response.status_code == 413 and "larger than the limit" in response.json()["detail"]
    assert not Entry.objects.filter(slug="companies").exists()


def test_department_that_is_not_the_owner_gets_403(department, other_department, tmp_path):
    assert upload(client_for(department), write_points(tmp_path / "p.gpkg")).status_code == 201
    response = upload(client_for(other_department), write_points(tmp_path / "p.gpkg"))
    assert response.status_code == 403 and "only the owner" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_gdal_oapif_driver_reads_the_layer(live_server, department, tmp_path):
    assert upload(client_for(department), write_points(tmp_path / "p.gpkg"), key="code").status_code == 201
    raw = create_api_key(department, "qgis")[1]
    result = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", "--config", "GDAL_HTTP_AUTH", "BASIC",
         "--config", "GDAL_HTTP_USERPWD", f"qgis:{raw}", f"OAPIF:{live_server.url}/ogc/", "companies"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "乙公司" in result.stdout and "POINT (116.4 39.95)" in result.stdout
    assert result.stdout.count("OGRFeature(companies)") == 3
