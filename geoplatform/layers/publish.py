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
from geoplatform.layers.importing.changes import DELETED_FIELD, CurrentRows
from geoplatform.layers.importing.errors import ImportRejected, PublishForbidden
from geoplatform.layers.importing.reader import LayerReader, copy_order
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
    changes: bool = False  # the file holds only added/changed rows (and ``_deleted`` ones); see importing.changes
    delete_keys: tuple[str, ...] = ()
    skip_bad_rows: bool = False  # leave out bad rows (listed in the report) instead of refusing the file


def _existing_layer(request: PublishRequest) -> Layer | None:
    layer = Layer.objects.select_related("owner").filter(slug=request.slug).first()
    if layer is not None and layer.owner_id != request.owner.pk:
        raise PublishForbidden(f"{request.slug} belongs to {layer.owner.name_zh} ({layer.owner.code}); "
                               "only its owner may publish it (一数一源)")
    return layer


NO_SCHEMA_CHANGE = {"added": [], "removed": [], "retyped": []}


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
        if request.changes or request.delete_keys:
            _check_change_set(layer, key)
        reader = LayerReader(source, request.crs, key, changes=bool(request.changes or request.delete_keys),
                             skip_bad_rows=request.skip_bad_rows)
        if total and reader.total > 0:
            total(reader.total)
        previous = layer.versions.get(number=layer.current_version).fields if layer and layer.current_version else []
        columns = dict(layer.columns) if layer else {}
        fields = assign_columns(reader.names_types, previous, columns)
        if (request.changes or request.delete_keys) and schema_changes(previous, fields) != NO_SCHEMA_CHANGE:
            raise ImportRejected("a change set must have the layer's fields ("
                                 + ", ".join(f"{f['name']} {f['type']}" for f in previous)
                                 + f"{', ' + DELETED_FIELD if reader.deleted_field else ''}); publish the whole "
                                 "file to change the schema")
        if layer is not None and (columns != layer.columns or not storage.has_row_hashes(layer.table)):
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
            prefix = ["fid", "key", "hash"] if keyed else ["fid"]
            storage.copy_chunks(cursor, layer.table, [c for _, c in copy_order(prefix, fields)],
                                reader.chunks(fields, prefix), progress, freeze=True)
            geometry_type, promoted = storage.unify_multi(cursor, layer.table, "true",
                                                          reader.stats.geometry_types)
            storage.index_new_table(cursor, layer.table, keyed)
            diff = {"added": reader.stats.features, "changed": 0, "removed": 0}
            count, extent = reader.stats.features, reader.stats.bounds
        else:
            layer = Layer.objects.select_for_update().get(pk=layer.pk)
            number = layer.current_version + 1
            current_version = layer.versions.get(number=layer.current_version)
            closed = None
            if keyed:
                diff, closed, geometry_type, promoted = _apply_keyed(cursor, reader, request, layer, number, fields,
                                                                     current_version, progress)
            else:
                storage.create_stage(cursor, layer.table, fields)
                storage.copy_chunks(cursor, storage.STAGE, [c for _, c in copy_order([], fields)],
                                    reader.chunks(fields, []), progress)
                geometry_type, promoted = storage.unify_multi(cursor, storage.STAGE, "true",
                                                              reader.stats.geometry_types)
                diff = storage.apply_replace(cursor, layer.table, number, fields)
            if request.changes or request.delete_keys:
                count = current_version.feature_count + diff["added"] - diff["removed"]
                extent = storage.extent_after_change(cursor, layer.table, current_version.extent,
                                                     reader.stats.bounds, closed)
            else:  # the file is the whole new version
                count, extent = reader.stats.features, reader.stats.bounds
            layer.key_field = reader.key or ""
    report = _report(reader, promoted, schema_changes(previous, fields), diff)
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


def _report(reader: LayerReader, promoted: int, changes: dict, diff: dict) -> dict:
    """The publish report: what was read, repaired, left out and assumed, and what changed."""
    stats = reader.stats
    report = {
        "features": stats.features, "repaired": stats.repaired, "empty": stats.empty,
        "no_geometry": stats.no_geometry, "z_dropped": stats.z_dropped, "promoted_to_multi": promoted,
        "source_crs": f"EPSG:{reader.epsg}", "encoding": reader.source.encoding, "driver": reader.source.driver,
        "schema_changes": changes, "diff": diff,
    }
    if reader.crs_note:
        report["crs"] = reader.crs_note
    if stats.bad.count:
        report["skipped_bad_rows"] = stats.bad.report()
    return report


def _check_change_set(layer: Layer | None, key: str | None) -> None:
    if layer is None or layer.current_version == 0:
        raise ImportRejected("a change set updates a published layer: publish the whole file first")
    if not layer.key_field:
        raise ImportRejected(f"a change set needs a layer with a key field; {layer.slug} has none: publish the "
                             "whole file with --key first")
    if key != layer.key_field:
        raise ImportRejected(f"{layer.slug} is keyed by {layer.key_field!r}, not {key!r}: a change set names "
                             "features by the layer's key")


def _apply_keyed(cursor, reader: LayerReader, request: PublishRequest, layer: Layer, number: int,
                 fields: list[Field], current_version: LayerVersion, progress) -> tuple[dict, list | None, str, int]:
    """Stage only what changes (new or changed rows, removed keys), then apply it: (diff, bounds of the closed
    rows, geometry type, promoted)."""
    storage.create_stage(cursor, layer.table, fields)
    change_set = bool(request.changes or request.delete_keys)
    first_keyed = not layer.key_field
    current = None if change_set or first_keyed else CurrentRows.load(cursor, layer.table)
    storage.copy_chunks(cursor, storage.STAGE, [c for _, c in copy_order(["key", "hash"], fields)],
                        reader.chunks(fields, ["key", "hash"], current=current), progress)
    removed = [*reader.deleted_keys, *request.delete_keys] if change_set else (
        [] if current is None else current.unseen_keys())
    storage.stage_removed_keys(cursor, removed)
    types = dict(reader.stats.geometry_types)
    if change_set:
        types = _types_with_layer(types, current_version.geometry_type)
    geometry_type, promoted = storage.unify_multi(cursor, storage.STAGE, "true", types)
    diff, closed = storage.apply_keyed(cursor, layer.table, number, fields, replace_all=first_keyed)
    if first_keyed:  # index the new keys for the next diff
        storage.unique_current_keys(cursor, layer.table)
    elif promoted and geometry_type != current_version.geometry_type:
        # unchanged rows were not staged: give them the multi type too (the same shapes, re-typed in place)
        promoted += storage.unify_multi(cursor, layer.table, "gp_vto IS NULL", types)[1]
    return diff, closed, geometry_type, promoted


def _types_with_layer(types: dict[int, int], layer_type: str) -> dict[int, int]:
    """A change set's geometry types must fit the layer's (singles are promoted to the layer's multi type)."""
    ids = {name: i for i, name in storage.TYPE_NAMES.items()}
    if layer_type not in ids:
        return types
    present = {t for t, n in types.items() if n}
    allowed = {ids[layer_type]} | {s for s, m in storage.FAMILIES.values() if m == ids[layer_type]}
    if not present <= allowed:
        names = ", ".join(sorted(storage.TYPE_NAMES[t] for t in present - allowed))
        raise ImportRejected(f"the change set has {names} geometries but the layer holds {layer_type}: "
                             "publish the whole file to change the geometry type")
    return {**types, ids[layer_type]: types.get(ids[layer_type], 0) + 1}


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
