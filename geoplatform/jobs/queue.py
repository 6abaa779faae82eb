"""Submitting jobs, leasing and completing chunks, and finishing jobs. Handlers are registered per kind."""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from geoplatform.jobs.models import Chunk, Job

LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Handler:
    """How to do one kind of job: ``process(job, chunk_input) -> output`` and ``finish(job)``."""

    process: Callable[[Job, list], list]
    finish: Callable[[Job], dict] | None = None


HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def submit(kind: str, department, chunks: Iterable[list], params: dict, *, api_key: str = "",
           username: str = "", report: dict | None = None) -> Job:
    """Store a job and its input chunks in one transaction; workers pick it up from there."""
    with transaction.atomic():
        job = Job.objects.create(kind=kind, department=department, params=params, api_key=api_key,
                                 username=username, report=report or {})
        total_rows = 0
        batch = []
        for number, rows in enumerate(chunks):
            batch.append(Chunk(job=job, number=number, rows=len(rows), input=rows))
            total_rows += len(rows)
            if len(batch) >= 50:
                Chunk.objects.bulk_create(batch)
                batch = []
        Chunk.objects.bulk_create(batch)
        job.total_chunks = Chunk.objects.filter(job=job).count()
        job.total_rows = total_rows
        job.save(update_fields=["total_chunks", "total_rows"])
    return job


def lease_chunk(worker: str, now=None) -> Chunk | None:
    """The next undone chunk nobody holds (or whose holder's lease ran out), now leased to ``worker``."""
    now = now or timezone.now()
    with transaction.atomic():
        chunk = (Chunk.objects.select_for_update(skip_locked=True)
                 .filter(done_at__isnull=True, job__status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
                 .exclude(lease_until__gt=now).order_by("job__created_at", "number").first())
        if chunk is None:
            return None
        chunk.leased_by = worker
        chunk.lease_until = now + LEASE
        chunk.attempts += 1
        chunk.save(update_fields=["leased_by", "lease_until", "attempts"])
        Job.objects.filter(pk=chunk.job_id, status=Job.Status.QUEUED).update(status=Job.Status.RUNNING)
    return chunk


def complete_chunk(chunk: Chunk, output: list, worker: str) -> bool:
    """Store the output if ``worker`` still holds the lease; False if someone else has taken over."""
    with transaction.atomic():
        updated = Chunk.objects.filter(pk=chunk.pk, done_at__isnull=True, leased_by=worker).update(
            output=output, done_at=timezone.now(), lease_until=None)
        if updated:
            Job.objects.filter(pk=chunk.job_id).update(done_chunks=F("done_chunks") + 1,
                                                       done_rows=F("done_rows") + chunk.rows)
    return bool(updated)


def _claim_finish(job_id) -> Job | None:
    """The job, moved to FINISHING, if all its chunks are done and nobody else is finishing it."""
    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(pk=job_id, status=Job.Status.RUNNING).first()
        if job is None or Chunk.objects.filter(job=job, done_at__isnull=True).exists():
            return None
        job.status = Job.Status.FINISHING
        job.finishing_since = timezone.now()
        job.save(update_fields=["status", "finishing_since"])
        return job


def finish_job(job: Job) -> None:
    handler = HANDLERS[job.kind]
    try:
        extra = handler.finish(job) if handler.finish else {}
        job.report = {**job.report, **(extra or {})}
        job.status = Job.Status.DONE
    except Exception as exc:  # a failed finish (e.g. a rejected publish) is reported on the job
        job.status = Job.Status.FAILED
        job.error = f"{type(exc).__name__}: {exc}"
    job.finished_at = timezone.now()
    job.save(update_fields=["report", "status", "error", "finished_at"])


def work_once(worker: str | None = None) -> bool:
    """Do one chunk (and finish its job if it was the last); False when there was nothing to do."""
    worker = worker or worker_name()
    chunk = lease_chunk(worker)
    if chunk is None:
        return _finish_orphans()
    job = chunk.job
    try:
        output = HANDLERS[job.kind].process(job, chunk.input)
    except Exception:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error=traceback.format_exc()[-2000:],
                                             finished_at=timezone.now())
        return True
    if complete_chunk(chunk, output, worker):
        claimed = _claim_finish(job.pk)
        if claimed is not None:
            finish_job(claimed)
    return True


def _finish_orphans() -> bool:
    """Jobs whose chunks are all done but that nobody finished (the finisher died)."""
    stale = timezone.now() - LEASE
    for job_id in Job.objects.filter(status=Job.Status.RUNNING).exclude(chunks__done_at__isnull=True) \
            .values_list("pk", flat=True)[:10]:
        claimed = _claim_finish(job_id)
        if claimed is not None:
            finish_job(claimed)
            return True
    Job.objects.filter(status=Job.Status.FINISHING, finishing_since__lt=stale).update(status=Job.Status.RUNNING)
    return False


def ordered_output(job: Job, batch: int = 20) -> Iterable[list]:
    """Every output row, in input order, reading a few chunks at a time."""
    number = 0
    while number < job.total_chunks:
        for chunk in Chunk.objects.filter(job=job, number__gte=number, number__lt=number + batch).order_by("number"):
            yield from chunk.output or []
        number += batch
