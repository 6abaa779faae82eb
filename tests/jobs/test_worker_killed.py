"""A real `geoplatform worker` process killed with SIGKILL in the middle of a chunk loses and duplicates nothing.

The worker runs as its own process on the test database (committed data, as in production); it is
killed while it holds the lease of a chunk whose output it has not written, after it finished others.
Once that lease has run out, a second worker process redoes the chunk: every input row is in the result
exactly once, in input order, and the dead worker's chunk was attempted twice.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from geoplatform.geocoding import jobs
from geoplatform.geocoding.loading import load_gazetteer
from geoplatform.jobs.models import Chunk, Job
from tests.geocoding.gazetteer_fixture import write_gazetteer_csv

ROWS, CHUNK_ROWS = 6_000, 1_000
STREETS = ["东城区美术馆后街{}号", "海淀区振兴南路{}号院2号楼", "西城区牛街{}号", "朝阳区朝阳北路{}号院5号楼3单元401室", "不是地址{}"]


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgresql://{s['USER']}{password}@{s['HOST'].replace('/', '%2F')}:{s['PORT']}/{s['NAME']}"


def start_worker(*args: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "GEOPLATFORM_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(["geoplatform", "worker", "--idle", "0.2", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def held_chunk(worker: subprocess.Popen, deadline: float) -> Chunk:
    """Wait until ``worker`` has finished a chunk and holds the lease of another it has not finished."""
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker stopped: {worker.stderr.read().decode()[-2000:]}"
        done = Chunk.objects.filter(done_at__isnull=False).count()
        held = Chunk.objects.filter(done_at__isnull=True, leased_by__endswith=f":{worker.pid}").first()
        if done >= 1 and held is not None:
            return held
        time.sleep(0.005)
    raise AssertionError("the worker did not reach a second chunk in time")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_chunk_loses_and_duplicates_nothing(department, other_department, tmp_path,
                                                              monkeypatch):
    load_gazetteer(write_gazetteer_csv(tmp_path / "gazetteer.csv"), owner=department)
    register = tmp_path / "register.csv"
    with open(register, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "address"])
        writer.writerows([i, STREETS[i % len(STREETS)].format(i % 40 + 1)] for i in range(ROWS))
    monkeypatch.setattr(jobs, "CHUNK_ROWS", CHUNK_ROWS)
    job = jobs.submit_geocode_job(other_department, register, "address")
    assert job.total_chunks == ROWS // CHUNK_ROWS

    worker = start_worker()
    try:
        victim = held_chunk(worker, time.monotonic() + 120)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=20)
    assert worker.returncode == -signal.SIGKILL
    victim.refresh_from_db()
    assert victim.done_at is None and victim.output is None, "killed before it wrote the chunk's output"
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.done_rows < ROWS

    # The lease (5 minutes) runs out; a second worker takes the dead one's chunk and the rest.
    Chunk.objects.filter(pk=victim.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = start_worker("--once")
    assert second.wait(timeout=300) == 0, second.stderr.read().decode()[-2000:]

    job.refresh_from_db()
    assert job.status == Job.Status.DONE and job.done_rows == ROWS and job.done_chunks == job.total_chunks
    victim.refresh_from_db()
    assert victim.attempts == 2 and victim.leased_by.endswith(f":{second.pid}")
    rows = list(csv.DictReader(io.StringIO("".join(jobs.result_csv_lines(job)))))
    assert [int(r["row"]) for r in rows] == list(range(ROWS)), "every row once, in input order"
    assert sum(r["level"] != "none" for r in rows) > ROWS // 2
