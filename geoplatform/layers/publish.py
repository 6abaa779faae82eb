"""publish_version(): a file becomes the new version of a layer, in one transaction, or nothing happens.

Also restore_version() (an old version becomes the new current one) and version_at() (which
version was current at a moment), the three operations of a layer's history.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from catalog.entries import mark_published, register_entry
from catalog.errors import CatalogError
from catalog.models import Department
from geoplatform.layers import storage
from geoplatform.layers.importing.errors import ImportRejected, PublishForbidden
from geoplatform.layers.importing.reader import LayerReader
from geoplatform.layers.importing.schema import Field, assign_columns, schema_changes
from geoplatform.layers.importing.sources import open_source
from geoplatform.layers.models import Layer, LayerVersion


@dataclass(frozen=True)
class PublishRequest:
    owner: Department
    slug: str
    title: str = ""
    key: str | None = None
    crs: str | None = None
    encoding: str | None = None
    layer_name: str | None = None
    published_by: str = ""
    source_name: str = ""


def _existing_layer(request: PublishRequest) -> Layer | None:
    layer = Layer.objects.select_related("owner").filter(slug=request.slug).first()
    if layer is not None and layer.owner_id != request.owner.pk:
        raise PublishForbidden(f"{request.slug} belongs to {layer.owner.name_zh} ({layer.owner.code}); "
                               "only its owner may publish it (一数一源)")
    return layer


def _catalog_fields(fields: list[Field]) -> list[dict]:
    return [{"name": f.name, "type": f.json_type, "title": f.name} for f in fields]


def publish_version(upload: Path, request: PublishRequest, total: Callable[[int], None] | None = None,
                    progress: Callable[[int], None] | None = None) -> LayerVersion:
    """Read ``upload`` and make it the layer's new version; ImportRejected (nothing changed) otherwise.

    ``total(n)`` is called once with the feature count when known, ``progress(n)`` after each chunk.
    """
    layer = _existing_layer(request)
    with tempfile.TemporaryDirectory(prefix="gp-layer-") as workdir:
        source = open_source(upload, Path(workdir), layer=request.layer_name, encoding=request.encoding)
        key = request.key or (layer.key_field if layer else None) or None
        reader = LayerReader(source, request.crs, key)
        if total and reader.total > 0:
            total(reader.total)
        previous = layer.versions.get(number=layer.current_version).fields if layer and layer.current_version else []
        columns = dict(layer.columns) if layer else {}
        fields = assign_columns(reader.names_types, previous, columns)
        if layer is not None and columns != layer.columns:
            # New columns are created (and committed) first: a nullable column no version lists is invisible,
            # and the long transaction below then never holds the table's exclusive lock.
            with transaction.atomic(), connection.cursor() as cursor:
                storage.add_columns(cursor, layer.table, {c: t for c, t in columns.items() if c not in layer.columns})
                Layer.objects.filter(pk=layer.pk).update(columns=columns)
        try:
            with transaction.atomic():
                return _load(reader, request, layer, fields, columns, previous, progress)
        except CatalogError as exc:
            raise PublishForbidden(str(exc)) if exc.status == 403 else ImportRejected(str(exc)) from None


def _load(reader: LayerReader, request: PublishRequest, layer: Layer | None, fields: list[Field],
          columns: dict[str, str], previous: list[dict], progress) -> LayerVersion:
    entry = register_entry(request.slug, "layer", request.owner, request.title or request.slug)
    keyed = reader.key is not None
    with connection.cursor() as cursor:
        if layer is None:
            layer = Layer.objects.create(slug=request.slug, owner=request.owner, title=request.title or request.slug,
                                         key_field=reader.key or "", columns=columns)
            number = 1
            storage.create_table(cursor, layer.table, columns)
            prefix = ["fid", "key"] if keyed else ["fid"]
            storage.copy_chunks(cursor, layer.table, ["gp_fid", *(["gp_key"] if keyed else []), "gp_geom",
                                                      *[f.column for f in fields]],
                                reader.chunks(fields, prefix), progress)
            geometry_type, promoted = storage.unify_multi(cursor, layer.table, "true",
                                                          reader.stats.geometry_types)
            storage.index_new_table(cursor, layer.table, keyed)
            diff = {"added": reader.stats.features, "changed": 0, "removed": 0}
            count, extent = reader.stats.features, reader.stats.bounds
        else:
            layer = Layer.objects.select_for_update().get(pk=layer.pk)
            number = layer.current_version + 1
            storage.create_stage(cursor, layer.table, fields)
            storage.copy_chunks(cursor, storage.STAGE, [*(["gp_key"] if keyed else []), "gp_geom",
                                                        *[f.column for f in fields]],
                                reader.chunks(fields, ["key"] if keyed else []), progress)
            geometry_type, promoted = storage.unify_multi(cursor, storage.STAGE, "true",
                                                          reader.stats.geometry_types)
            if keyed:
                if not layer.key_field:  # first keyed version: check the current keys and index them
                    storage.unique_current_keys(cursor, layer.table)
                diff = storage.apply_keyed(cursor, layer.table, number, fields)
            else:
                diff = storage.apply_replace(cursor, layer.table, number, fields)
            count, extent = storage.current_summary(cursor, layer.table)
            layer.key_field = reader.key or ""
    stats = reader.stats
    report = {
        "features": stats.features, "repaired": stats.repaired, "empty": stats.empty,
        "z_dropped": stats.z_dropped, "promoted_to_multi": promoted, "source_crs": f"EPSG:{reader.epsg}",
        "encoding": reader.source.encoding, "driver": reader.source.driver,
        "schema_changes": schema_changes(previous, fields), "diff": diff,
    }
    version = LayerVersion.objects.create(
        layer=layer, number=number, published_at=timezone.now(), published_by=request.published_by,
        source_name=request.source_name or reader.source.path.name, fields=[f.as_dict() for f in fields],
        geometry_type=geometry_type, feature_count=count, extent=extent, report=report)
    layer.current_version = number
    layer.title = request.title or layer.title
    layer.save(update_fields=["current_version", "title", "key_field"])
    mark_published(entry, feature_count=count, extent=tuple(extent) if extent else None,
                   fields=_catalog_fields(fields))
    return version


def restore_version(layer: Layer, target: int, published_by: str = "") -> LayerVersion:
    """A new version whose rows and schema are those of version ``target``."""
    with transaction.atomic():
        layer = Layer.objects.select_for_update().get(pk=layer.pk)
        old = layer.versions.filter(number=target).first()
        if old is None:
            raise ImportRejected(f"{layer.slug} has no version {target}")
        number = layer.current_version + 1
        with connection.cursor() as cursor:
            diff = storage.restore(cursor, layer.table, target, number)
            count, extent = storage.current_summary(cursor, layer.table)
        current = layer.versions.get(number=layer.current_version)
        fields = [Field(**f) for f in old.fields]
        version = LayerVersion.objects.create(
            layer=layer, number=number, published_at=timezone.now(), published_by=published_by,
            source_name=f"restore of version {target}", fields=old.fields, geometry_type=old.geometry_type,
            feature_count=count, extent=extent, restored_from=target,
            report={"diff": diff, "schema_changes": schema_changes(current.fields, fields)})
        layer.current_version = number
        layer.save(update_fields=["current_version"])
        from catalog.models import Entry

        entry = Entry.objects.get(slug=layer.slug)
        mark_published(entry, feature_count=count, extent=tuple(extent) if extent else None,
                       fields=_catalog_fields(fields))
    return version


def version_at(layer: Layer, moment: datetime) -> LayerVersion | None:
    """The version that was current at ``moment`` (None before the first publish)."""
    return layer.versions.filter(published_at__lte=moment).order_by("-number").first()
