"""Attribute schema: OGR field types -> SQL types, physical columns per field, changes between versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from geoplatform.layers.importing import copy_binary as cb

# OGR type (and subtype) -> (SQL type, OGC/JSON schema type, encoder)
SQL_TYPES = {
    "integer": ("integer", cb.int4),
    "bigint": ("integer", cb.int8),
    "double precision": ("number", cb.float8),
    "boolean": ("boolean", cb.boolean),
    "date": ("date", cb.date),
    "timestamp": ("date-time", cb.timestamp),
    "text": ("string", cb.text),
}


def sql_type(ogr_type: str, ogr_subtype: str) -> str:
    if ogr_type == "OFTInteger":
        return "boolean" if ogr_subtype == "OFSTBoolean" else "integer"
    return {"OFTInteger64": "bigint", "OFTReal": "double precision", "OFTDate": "date",
            "OFTDateTime": "timestamp"}.get(ogr_type, "text")


@dataclass(frozen=True)
class Field:
    """A public attribute name, the physical column holding it, and its SQL type."""

    name: str
    column: str
    type: str

    @property
    def json_type(self) -> str:
        return SQL_TYPES[self.type][0]

    def as_dict(self) -> dict:
        return asdict(self)


def assign_columns(names_types: list[tuple[str, str]], previous: list[dict], columns: dict[str, str]) -> list[Field]:
    """Fields for a new version: a name keeps its column when its type is unchanged, else gets a new one.

    ``columns`` (the layer's physical columns) is updated in place with the ones to create.
    """
    before = {f["name"]: f for f in previous}
    taken = {int(c[1:]) for c in columns}
    fields = []
    for name, type_ in names_types:
        old = before.get(name)
        if old is not None and old["type"] == type_:
            fields.append(Field(name, old["column"], type_))
            continue
        number = max(taken, default=0) + 1
        taken.add(number)
        columns[f"a{number}"] = type_
        fields.append(Field(name, f"a{number}", type_))
    return fields


def schema_changes(previous: list[dict], fields: list[Field]) -> dict:
    """What a version changes in the schema of the one before: added, removed and retyped fields."""
    before = {f["name"]: f["type"] for f in previous}
    after = {f.name: f.type for f in fields}
    return {
        "added": [n for n in after if n not in before],
        "removed": [n for n in before if n not in after],
        "retyped": [{"name": n, "from": before[n], "to": after[n]} for n in after if n in before and before[n] != after[n]],
    }
