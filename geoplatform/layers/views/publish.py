"""Owner endpoints: upload a file as a new version, list versions, restore one (api/layers/<slug>/versions)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rest_framework.parsers import MultiPartParser

from catalog.access import Action, authorize, request_principal
from catalog.errors import CatalogError, EntryNotFound, InvalidRequest, NotAuthenticated
from catalog.models import Entry
from geoplatform.layers import conf
from geoplatform.layers.importing.errors import ImportRejected, UploadTooLarge
from geoplatform.layers.models import Layer
from geoplatform.layers.publish import PublishRequest, publish_version, restore_version
from geoplatform.layers.views.base import LayersView, json_response


def version_doc(v) -> dict:
    return {"version": v.number, "published_at": v.published_at.isoformat(), "published_by": v.published_by,
            "source": v.source_name, "feature_count": v.feature_count, "geometry_type": v.geometry_type,
            "extent": v.extent, "fields": [{"name": f["name"], "type": f["type"]} for f in v.fields],
            "restored_from": v.restored_from, "report": v.report}


def error(exc: ImportRejected):
    return json_response({"detail": str(exc)}, status=exc.status)


class VersionsView(LayersView):
    parser_classes = [MultiPartParser]

    def get(self, request, slug: str):
        authorize(request, slug, Action.DISCOVER)
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            raise EntryNotFound(f"no published layer {slug!r}")
        return json_response({"layer": slug, "current": layer.current_version,
                              "versions": [version_doc(v) for v in layer.versions.order_by("number")]})

    def post(self, request, slug: str):
        """Multipart field ``file`` (+ title, key, crs, encoding, layer, changes=true, delete_keys one per line,
        skip_bad_rows=true).

        Django streams the upload to a temp file.
        """
        limit = conf.max_upload_bytes()
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            return error(UploadTooLarge(f"upload larger than the limit of {limit // 2**20} MB"))
        if Entry.objects.filter(slug=slug).exists():
            owner = authorize(request, slug, Action.PUBLISH).principal.department
        else:
            principal = request_principal(request)
            if principal is None or principal.department is None:
                raise NotAuthenticated("publishing needs a department's API key or staff login")
            owner = principal.department
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidRequest("send the data as the multipart field 'file'")
        if upload.size > limit:
            return error(UploadTooLarge(f"upload larger than the limit of {limit // 2**20} MB"))
        data = request.data
        with tempfile.TemporaryDirectory(prefix="gp-upload-") as folder:
            path = Path(folder) / Path(upload.name or "upload").name
            _save_upload(upload, path)
            publish = PublishRequest(owner=owner, slug=slug, title=data.get("title", ""), key=data.get("key") or None,
                                     crs=data.get("crs") or None, encoding=data.get("encoding") or None,
                                     layer_name=data.get("layer") or None, source_name=path.name,
                                     published_by=getattr(request.user, "label", ""),
                                     changes=_flag(data, "changes"), skip_bad_rows=_flag(data, "skip_bad_rows"),
                                     delete_keys=tuple(k.strip() for k in data.get("delete_keys", "").splitlines()
                                                       if k.strip()))
            try:
                version = publish_version(path, publish)
            except ImportRejected as exc:
                return error(exc)
        return json_response(version_doc(version), status=201)


class RestoreView(LayersView):
    def post(self, request, slug: str, number: int):
        decision = authorize(request, slug, Action.PUBLISH)
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            raise EntryNotFound(f"no published layer {slug!r}")
        try:
            version = restore_version(layer, number, published_by=decision.principal.label)
        except ImportRejected as exc:
            return error(exc)
        except CatalogError:
            raise
        return json_response(version_doc(version), status=201)


def _flag(data, name: str) -> bool:
    """A true/false form field (absent: false); anything else is a 400 naming the accepted words."""
    value = str(data.get(name, "")).strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise InvalidRequest(f"{name}={value!r} is not true or false (accepted: true, false, 1, 0, yes, no)")


def _save_upload(upload, path: Path) -> None:
    """The upload under ``path`` (its name tells the format): a large one Django already streamed to a temporary
    file is linked there, not copied again; a small one held in memory is written out."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        try:
            os.link(temporary(), path)
            return
        except OSError:  # another file system: copy
            pass
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
