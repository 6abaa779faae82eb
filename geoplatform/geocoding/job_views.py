"""Batch geocoding jobs over HTTP: upload a CSV, follow its progress, fetch the result or its layer."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.access import Action, authorize
from catalog.audit import record_result
from catalog.errors import AccessDenied, EntryNotFound, InvalidRequest
from catalog.models import Entry
from geoplatform.geocoding import jobs
from geoplatform.geocoding.batch import BatchInputError
from geoplatform.jobs.models import Job

GAZETTEER = "gazetteer"


def job_body(request, job: Job) -> dict:
    urls = {"self": request.build_absolute_uri(reverse("geocode-job", args=[job.pk]))}
    if job.status == Job.Status.DONE:
        for fmt in ("csv", "geojson"):
            urls[fmt] = request.build_absolute_uri(reverse("geocode-job-result", args=[job.pk, fmt]))
        if job.report.get("layer"):
            urls["layer"] = request.build_absolute_uri(reverse("entry-page", args=[job.report["layer"]]))
    return {"id": str(job.pk), "status": job.status, "rows": job.total_rows, "done_rows": job.done_rows,
            "progress": round(job.done_rows / job.total_rows, 4) if job.total_rows else 1.0,
            "params": job.params, "report": {k: v for k, v in job.report.items() if k != "header"},
            "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at, "links": urls}


def _own_job(request, pk) -> Job:
    """The caller's department's job ``pk``; 404 for another department's job or an id that is no job id."""
    try:
        uuid.UUID(str(pk))
    except ValueError:  # the result URL's pattern admits 36 hex digits and dashes in any order
        raise EntryNotFound(f"no geocoding job {pk}: a job id is a UUID such as "
                            "1b4e28ba-2fa1-11d2-883f-0016d3cca427") from None
    principal = request.user
    job = Job.objects.filter(pk=pk, kind=jobs.KIND, department=principal.department).first()
    if job is None:
        raise EntryNotFound(f"no geocoding job {pk} of your department")
    return job


class GeocodeJobsView(APIView):
    """POST a CSV (multipart: file, column, [encoding], [output=csv|geojson|layer], [layer, title, key])."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": OpenApiTypes.OBJECT}, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        authorize(request, GAZETTEER, Action.READ, purpose="batch geocoding")
        principal = request.user
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidRequest("attach the CSV as the multipart field 'file'")
        if upload.size > settings.GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES:
            raise InvalidRequest(f"the file is {upload.size} bytes; the limit is "
                                 f"{settings.GEOPLATFORM_GEOCODE_MAX_UPLOAD_BYTES}")
        data = request.data
        for name, value in data.items():
            if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold NUL
                raise InvalidRequest(f"the form field {name!r} contains a NUL character (\\x00); remove it")
        layer = data.get("layer", "")
        if data.get("output") == "layer":
            existing = Entry.objects.filter(slug=layer).exclude(owner=principal.department).first()
            if existing is not None:
                raise AccessDenied(f"{layer} belongs to {existing.owner.name_zh}; choose another layer name")
        with tempfile.TemporaryDirectory(prefix="gp-upload-") as tmp:
            path = Path(tmp) / "input.csv"
            with open(path, "wb") as fh:
                for part in upload.chunks():
                    fh.write(part)
            try:
                job = jobs.submit_geocode_job(
                    principal.department, path, data.get("column", ""), encoding=data.get("encoding") or None,
                    output=data.get("output", "csv"), layer=layer, title=data.get("title", ""),
                    key=data.get("key", ""), api_key=principal.api_key.prefix if principal.api_key else "",
                    username=principal.user.get_username() if principal.user else "")
            except (BatchInputError, LookupError, UnicodeError) as exc:
                raise InvalidRequest(str(exc)) from None
        return Response(job_body(request, job), status=202)

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}}, operation_id="geocode_jobs_list")
    def get(self, request):
        authorize(request, GAZETTEER, Action.DISCOVER, purpose="batch geocoding jobs")
        recent = Job.objects.filter(kind=jobs.KIND, department=request.user.department)[:50]
        return Response([job_body(request, job) for job in recent])


class GeocodeJobView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        authorize(request, GAZETTEER, Action.DISCOVER, purpose=f"batch geocoding job {pk}")
        return Response(job_body(request, _own_job(request, pk)))


class GeocodeJobResultView(APIView):
    """The result, every input row in input order with lon, lat, level, score, matched_address, address_id."""

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/geo+json"): OpenApiTypes.OBJECT})
    def get(self, request, pk, fmt):
        job = _own_job(request, pk)
        if job.status != Job.Status.DONE:
            raise InvalidRequest(f"job {pk} is {job.status}, not done")
        decision = authorize(request, GAZETTEER, Action.DOWNLOAD, purpose=f"batch geocoding result {pk}")
        record_result(decision, rows=job.total_rows)
        parts = jobs.result_csv_lines(job) if fmt == "csv" else jobs.result_geojson_parts(job)
        # the first part is read before the 200 is sent: a failure there is an error status, not a cut file
        first = next(parts, "")
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/geo+json"
        response = StreamingHttpResponse(itertools.chain([first], parts), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="geocoded-{pk}.{fmt}"'
        return response
