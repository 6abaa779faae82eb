"""Field masking and coarsening (灵活处理) as SQL expressions, so clear values never leave the database.

A transform spec is a small dict chosen by the owner when granting:

- ``{"kind": "clear"}``                  the value as it is
- ``{"kind": "mask", "keep_last": 4}``   every character but the last N replaced by ``*`` (ID numbers)
- ``{"kind": "range", "step": 100}``     a number shown as the range holding it, e.g. ``100-200``
- ``{"kind": "status"}``                 only whether a value is present: ``有`` / ``无``
- ``{"kind": "year"}``                   a date shown as its year
"""

from __future__ import annotations

from catalog.errors import InvalidRequest

KINDS = ("clear", "mask", "range", "status", "year")
DEFAULT_FOR_SENSITIVITY = {"masked": {"kind": "mask", "keep_last": 4}, "coarsened": {"kind": "status"}}


def validate_transform(spec: dict) -> dict:
    """The spec, checked and normalised; InvalidRequest naming the problem otherwise."""
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise InvalidRequest(f"unknown field transform {spec!r}: kind must be one of {', '.join(KINDS)}")
    kind = spec["kind"]
    if kind == "mask":
        keep = spec.get("keep_last", 4)
        if not isinstance(keep, int) or not 0 <= keep <= 32:
            raise InvalidRequest("mask keep_last must be an integer from 0 to 32")
        return {"kind": "mask", "keep_last": keep}
    if kind == "range":
        step = spec.get("step")
        if not isinstance(step, int | float) or isinstance(step, bool) or step <= 0:
            raise InvalidRequest("range step must be a positive number")
        return {"kind": "range", "step": step}
    return {"kind": kind}


def select_expression(value_sql: str, transform: dict | None) -> str:
    """SQL computing the shown value from ``value_sql`` (an expression yielding text or NULL).

    ``value_sql`` comes from the caller's own schema (a quoted column or ``props->>'name'``),
    never from a request; the transform's numbers are validated, so the result is safe to embed.
    """
    if transform is None:
        return value_sql
    spec = validate_transform(transform)
    if spec["kind"] == "clear":
        return value_sql
    kind = spec["kind"]
    if kind == "mask":
        keep = spec["keep_last"]
        tail = f"right(({value_sql})::text, {keep})" if keep else "''"
        return (f"CASE WHEN ({value_sql}) IS NULL THEN NULL ELSE "
                f"repeat('*', greatest(length(({value_sql})::text) - {keep}, 0)) || {tail} END")
    if kind == "range":
        step = repr(float(spec["step"])) if isinstance(spec["step"], float) else str(spec["step"])
        low = f"(floor((({value_sql})::text)::numeric / {step}) * {step})"
        return (f"CASE WHEN ({value_sql}) IS NULL OR ({value_sql})::text !~ '^\\s*-?[0-9.]+\\s*$' THEN NULL "
                f"ELSE {low}::text || '-' || ({low} + {step})::text END")
    if kind == "status":
        return f"CASE WHEN ({value_sql}) IS NULL OR ({value_sql})::text = '' THEN '无' ELSE '有' END"
    return f"CASE WHEN ({value_sql}) IS NULL THEN NULL ELSE substring(({value_sql})::text from '[0-9]{{4}}') END"
