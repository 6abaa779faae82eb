"""Field masking and coarsening (灵活处理) as SQL expressions, so clear values never leave the database.

A transform spec is a small dict chosen by the owner when granting:

- ``{"kind": "clear"}``                  the value as it is
- ``{"kind": "mask", "keep_last": 4}``   every character but the last N replaced by ``*`` (ID numbers)
- ``{"kind": "range", "step": 100}``     a number shown as the range holding it, e.g. ``100-200``
- ``{"kind": "status"}``                 only whether a value is present: ``有`` / ``无``
- ``{"kind": "year"}``                   a date shown as its year

Each kind fits some field types only (a range of a name means nothing). An approval naming a
transform that does not fit is refused (:func:`check_fits`); a grant stored before that check, or a
field whose type changed in a later version, reads as the most protective output: the value hidden.
The SQL decides this from the column's actual type, so a read never fails on a misfitting grant.
"""

from __future__ import annotations

import math

from catalog.errors import InvalidRequest

KINDS = ("clear", "mask", "range", "status", "year")
DEFAULT_FOR_SENSITIVITY = {"masked": {"kind": "mask", "keep_last": 4}, "coarsened": {"kind": "status"}}

# The field types of a catalog entry's schema (JSON schema names) each kind fits; None: every type.
FITS: dict[str, frozenset[str] | None] = {
    "clear": None,
    "mask": frozenset({"string", "integer"}),
    "range": frozenset({"integer", "number"}),
    "status": None,
    "year": frozenset({"date", "date-time"}),
}
# The PostgreSQL types behind those names, checked on the column itself at read time.
_SQL_TYPES = {
    "string": ("text", "character varying", "character"),
    "integer": ("smallint", "integer", "bigint"),
    "number": ("smallint", "integer", "bigint", "numeric", "real", "double precision"),
    "date": ("date",),
    "date-time": ("timestamp without time zone", "timestamp with time zone"),
}
# A number's text that numeric input always accepts (float8 also prints NaN and Infinity: hidden).
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$"
HIDDEN = "NULL::text"


class TransformDoesNotFit(InvalidRequest):
    """An approval names a transform that makes no sense for the field's type (e.g. a range of a name)."""


def validate_transform(spec: dict) -> dict:
    """The spec, checked and normalised; InvalidRequest naming the problem otherwise."""
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise InvalidRequest(f"unknown field transform {spec!r}: kind must be one of {', '.join(KINDS)}")
    kind = spec["kind"]
    if kind == "mask":
        keep = spec.get("keep_last", 4)
        if not isinstance(keep, int) or isinstance(keep, bool) or not 0 <= keep <= 32:
            raise InvalidRequest("mask keep_last must be an integer from 0 to 32")
        return {"kind": "mask", "keep_last": keep}
    if kind == "range":
        step = spec.get("step")
        if not isinstance(step, int | float) or isinstance(step, bool) or not math.isfinite(step) or step <= 0:
            raise InvalidRequest("range step must be a positive number")
        return {"kind": "range", "step": step}
    return {"kind": kind}


def fitting_kinds(field_type: str | None) -> list[str]:
    """The transform kinds that fit a field of ``field_type`` (a schema type such as ``string``)."""
    return [kind for kind, types in FITS.items() if types is None or field_type in types]


def check_fits(field: str, field_type: str | None, spec: dict) -> None:
    """TransformDoesNotFit naming the field, its type and the kinds that fit, when ``spec`` does not fit.

    A field whose schema gives no type cannot be judged here; its reads are still guarded in SQL.
    """
    kind = spec.get("kind")
    if not field_type or kind in fitting_kinds(field_type):
        return
    raise TransformDoesNotFit(
        f"field {field!r} is of type {field_type}: a {kind!r} transform does not fit it; "
        f"transforms that fit {field_type} fields: {', '.join(fitting_kinds(field_type))}")


def _of_type(value_sql: str, kind: str) -> str:
    """SQL predicate: ``value_sql`` has a type that ``kind`` fits (decided per column, never failing)."""
    names = ", ".join(sorted({f"'{sql}'" for t in FITS[kind] or () for sql in _SQL_TYPES.get(t, ())}))
    return f"(pg_typeof({value_sql}) = ANY (ARRAY[{names}]::regtype[]))"


def _shown(value_sql: str, spec: dict) -> str:
    kind = spec["kind"]
    text = f"({value_sql})::text"
    if kind == "mask":
        keep = spec["keep_last"]
        tail = f"right({text}, {keep})" if keep else "''"
        return f"repeat('*', greatest(length({text}) - {keep}, 0)) || {tail}"
    if kind == "range":
        step = repr(float(spec["step"])) if isinstance(spec["step"], float) else str(spec["step"])
        low = f"(floor(({text})::numeric / {step}) * {step})"
        return f"CASE WHEN {text} ~ '{_NUMBER}' THEN {low}::text || '-' || ({low} + {step})::text END"
    return f"substring({text} from '[0-9]{{4}}')"


def select_expression(value_sql: str, transform: dict | None) -> str:
    """SQL computing the shown value from ``value_sql`` (a column of the caller's own table, any type).

    ``value_sql`` comes from the caller's own schema (a quoted column or ``props->>'name'``), never
    from a request; the transform's numbers are validated, so the result is safe to embed. A stored
    spec that is invalid, or that does not fit the column's type, hides the value instead of failing.
    """
    if transform is None:
        return value_sql
    try:
        spec = validate_transform(transform)
    except InvalidRequest:
        return HIDDEN
    kind = spec["kind"]
    if kind == "clear":
        return value_sql
    if kind == "status":
        return f"CASE WHEN ({value_sql}) IS NULL OR ({value_sql})::text = '' THEN '无' ELSE '有' END"
    return (f"CASE WHEN ({value_sql}) IS NULL OR NOT {_of_type(value_sql, kind)} THEN {HIDDEN} "
            f"ELSE {_shown(value_sql, spec)} END")
