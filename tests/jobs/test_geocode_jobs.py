"""Batch geocoding jobs: chunked in the database, any worker may take a chunk, a crash loses nothing."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from geoplatform.geocoding import jobs
from geoplatform.geocoding.batch import BatchInputError
from geoplatform.geocoding.loading import load_gazetteer
from geoplatform.jobs.models import Chunk, Job
from geoplatform.jobs.queue import complete_chunk, lease_chunk, work_once
from tests.geocoding.gazetteer_fixture import write_gazetteer_csv

ADDRESSES = ["北京市东城区美术馆后街3号", "海淀区振兴南路21号院2号楼", "完全不是地址 xyz", "", "西城区牛街12号",
             "朝阳区朝阳北路17号院5号楼3单元401室"]


@pytest.fixture
def gazetteer(db, department, tmp_path):
    load_gazetteer(write_gazetteer_csv(tmp_path / "gazetteer.csv"), owner=department)


def register_csv(tmp_path, rows=None, encoding="utf-8"):
    path = tmp_path / "register.csv"
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["credit_code", "name", "address"])
        for i, address in enumerate(rows or ADDRESSES):
            writer.writerow([f"91110000MA{i:08d}", f"企业{i}", address])
    return path


def run_all():
    while work_once("test-worker"):
        pass


def result_rows(job):
    return list(csv.DictReader(io.StringIO("".join(jobs.result_csv_lines(job)))))


def test_job_keeps_every_row_in_order(gazetteer, other_department, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    job = jobs.submit_geocode_job(other_department, register_csv(tmp_path), "address")
    assert job.total_chunks == 3 and job.total_rows == len(ADDRESSES)
    run_all()
    job.refresh_from_db()
    assert job.status == "done" and job.done_rows == len(ADDRESSES)
    rows = result_rows(job)
    assert [r["address"] for r in rows] == ADDRESSES
    assert rows[0]["level"] == "door" and rows[2]["level"] == "none" and rows[3]["level"] == "none"
    assert set(rows[0]) == {"credit_code", "name", "address", "lon", "lat", "level", "score", "matched_address",
                            "correction",
                            "address_id"}
    features = json.loads("".join(jobs.result_geojson_parts(job)))["features"]
    assert len(features) == len(ADDRESSES) and features[2]["geometry"] is None


def test_worker_crash_loses_and_duplicates_nothing(gazetteer, other_department, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    job = jobs.submit_geocode_job(other_department, register_csv(tmp_path), "address")
    dead = lease_chunk("dead-worker")  # leases chunk 0, then "crashes": never completes it
    assert dead.number == 0
    run_all()  # the others are done; chunk 0 is still leased to the dead worker
    job.refresh_from_db()
    assert job.status == "running" and job.done_rows == len(ADDRESSES) - dead.rows
    Chunk.objects.filter(pk=dead.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    run_all()  # the lease ran out: another worker redoes chunk 0
    job.refresh_from_db()
    assert job.status == "done" and job.done_rows == len(ADDRESSES)
    assert not complete_chunk(dead, [["late"]], "dead-worker"), "the dead worker's late answer is refused"
    assert [r["address"] for r in result_rows(job)] == ADDRESSES


def test_gbk_file_is_detected(gazetteer, other_department, tmp_path):
    job = jobs.submit_geocode_job(other_department, register_csv(tmp_path, encoding="gbk"), "address")
    assert job.report["encoding"] == "gb18030"
    run_all()
    job.refresh_from_db()
    assert result_rows(job)[0]["address"] == ADDRESSES[0]


def test_malformed_line_is_reported_and_kept(gazetteer, other_department, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('credit_code,name,address\n1,甲,东城区美术馆后街3号\n2,"乙,西城区牛街12号\n3,丙,西城区牛街12号\n',
                    encoding="utf-8")
    job = jobs.submit_geocode_job(other_department, path, "address")
    assert job.report["malformed_lines"] == [3]
    run_all()
    job.refresh_from_db()
    rows = result_rows(job)
    assert len(rows) == 3 and rows[1]["level"] == "none" and rows[2]["level"] == "door"


@pytest.mark.parametrize(("column", "output", "layer", "message"), [
    ("addr", "csv", "", "no column 'addr'"), ("address", "shp", "", "output must be"),
    ("address", "layer", "", "name the layer")])
def test_bad_requests_are_refused_before_queueing(gazetteer, other_department, tmp_path, column, output, layer,
                                                  message):
    with pytest.raises(BatchInputError, match=message):
        jobs.submit_geocode_job(other_department, register_csv(tmp_path), column, output=output, layer=layer)
    assert not Job.objects.exists()


def test_result_published_as_the_departments_layer(gazetteer, other_department, tmp_path):
    from catalog.models import Entry

    job = jobs.submit_geocode_job(other_department, register_csv(tmp_path), "address", output="layer",
                                  layer="registered-businesses", title="登记企业", key="credit_code")
    run_all()
    job.refresh_from_db()
    assert job.status == "done", job.error
    matched = sum(1 for r in result_rows(job) if r["level"] != "none")
    assert job.report["published_features"] == matched and job.report["not_published_unmatched"] == len(ADDRESSES) - matched
    assert 0 < matched < len(ADDRESSES)
    entry = Entry.objects.get(slug="registered-businesses")
    assert entry.owner == other_department and entry.feature_count == matched


def post_job(client, raw, path, **fields):
    with open(path, "rb") as fh:
        return client.post("/api/geocode/jobs/", {"file": fh, "column": "address", **fields},
                           HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_job_api_upload_progress_and_result(client, gazetteer, other_department, tmp_path):
    from catalog.keys import create_api_key

    _key, raw = create_api_key(other_department, "registry")
    response = post_job(client, raw, register_csv(tmp_path))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["rows"] == len(ADDRESSES) and body["progress"] == 0
    run_all()
    status = client.get(body["links"]["self"], HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert status["status"] == "done" and status["progress"] == 1.0
    result = client.get(status["links"]["csv"], HTTP_AUTHORIZATION=f"Bearer {raw}")
    rows = list(csv.DictReader(io.StringIO(b"".join(result.streaming_content).decode())))
    assert [r["address"] for r in rows] == ADDRESSES
    geojson = client.get(status["links"]["geojson"], HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert len(json.loads(b"".join(geojson.streaming_content))["features"]) == len(ADDRESSES)


def test_job_api_refuses_others_and_bad_input(client, gazetteer, department, other_department, tmp_path):
    from catalog.keys import create_api_key
    from catalog.models import Entry

    _k, mine = create_api_key(other_department, "a")
    _k, theirs = create_api_key(department, "b")
    assert post_job(client, "x" * 10, register_csv(tmp_path)).status_code == 401
    assert client.post("/api/geocode/jobs/", {"column": "address"}).status_code == 401
    job_url = post_job(client, mine, register_csv(tmp_path)).json()["links"]["self"]
    assert client.get(job_url, HTTP_AUTHORIZATION=f"Bearer {theirs}").status_code == 404
    assert post_job(client, mine, register_csv(tmp_path), column="nope").status_code == 400
    Entry.objects.create(slug="taken", owner=department, title_zh="别人的图层")
    response = post_job(client, mine, register_csv(tmp_path), output="layer", layer="taken")
    assert response.status_code == 403


def test_business_register_becomes_a_layer_in_one_command(gazetteer, other_department, tmp_path, capsys):
    from django.core.management import call_command

    from catalog.models import Entry
    from geoplatform.layers.models import Layer

    out = tmp_path / "out.csv"
    call_command("geocode", "batch", str(register_csv(tmp_path)), "--column", "address", "--out", str(out),
                 "--workers", "1", "--no-progress", "--publish", "businesses-swj", "--owner", other_department.code,
                 "--key", "credit_code", "--title", "税务登记企业")
    assert "published" in capsys.readouterr().err
    layer = Layer.objects.get(slug="businesses-swj")
    entry = Entry.objects.get(slug="businesses-swj")
    assert layer.owner == other_department and entry.title_zh == "税务登记企业"
    assert entry.feature_count == sum(1 for r in csv.DictReader(open(out, encoding="utf-8")) if r["level"] != "none")
