"""Masking and coarsening run in SQL: checked on the real database with real values of each column type."""

import pytest
from django.db import connection

from catalog.errors import InvalidRequest
from catalog.masking import (
    HIDDEN,
    TransformDoesNotFit,
    check_fits,
    fitting_kinds,
    select_expression,
    validate_transform,
)


def shown(value, sql_type: str, transform):
    """The value as a reader sees it, computed from a column (``OFFSET 0`` keeps it from being a constant)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select_expression('t.v', transform)} "
                       f"FROM (SELECT (%(v)s)::{sql_type} AS v OFFSET 0) t", {"v": value})
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("value", "sql_type", "transform", "result"), [
    ("110101199003071234", "text", {"kind": "mask", "keep_last": 4}, "**************1234"),
    ("91110000MA01ABCD2X", "text", {"kind": "mask", "keep_last": 6}, "************ABCD2X"),
    ("123", "text", {"kind": "mask", "keep_last": 4}, "123"),
    (None, "text", {"kind": "mask", "keep_last": 4}, None),
    ("张三", "text", {"kind": "mask", "keep_last": 0}, "**"),
    (13800138000, "bigint", {"kind": "mask", "keep_last": 4}, "*******8000"),
    (153, "integer", {"kind": "range", "step": 100}, "100-200"),
    (-5, "integer", {"kind": "range", "step": 10}, "-10-0"),
    (12.5, "double precision", {"kind": "range", "step": 10}, "10-20"),
    (1.2, "double precision", {"kind": "range", "step": 0.5}, "1.0-1.5"),
    (None, "integer", {"kind": "range", "step": 10}, None),
    ("13800138000", "text", {"kind": "status"}, "有"),
    ("", "text", {"kind": "status"}, "无"),
    (None, "integer", {"kind": "status"}, "无"),
    (False, "boolean", {"kind": "status"}, "有"),
    ("2021-05-03", "date", {"kind": "year"}, "2021"),
    ("2021-05-03 10:30:00", "timestamp", {"kind": "year"}, "2021"),
    ("as is", "text", {"kind": "clear"}, "as is"),
    ("as is", "text", None, "as is"),
])
def test_transform_in_sql(db, value, sql_type, transform, result):
    assert shown(value, sql_type, transform) == result


@pytest.mark.parametrize(("value", "sql_type", "transform"), [
    ("1.2.3", "text", {"kind": "range", "step": 100}),       # numeric input would fail: the 500 of issue 11
    ("2021.05.03", "text", {"kind": "range", "step": 100}),
    ("12\u3000", "text", {"kind": "range", "step": 100}),     # an ideographic space
    ("153", "text", {"kind": "range", "step": 100}),         # looks numeric, still a text field: hidden
    ("NaN", "double precision", {"kind": "range", "step": 10}),
    ("Infinity", "double precision", {"kind": "range", "step": 10}),
    ("110101199001011234", "text", {"kind": "year"}),        # would show 4 digits of an ID number
    (2021, "integer", {"kind": "year"}),
    (True, "boolean", {"kind": "mask", "keep_last": 4}),     # 'true' would show in full
    ("2021-05-03", "date", {"kind": "mask", "keep_last": 4}),
    (12.5, "double precision", {"kind": "mask", "keep_last": 2}),
])
def test_stored_transform_that_does_not_fit_the_column_hides_the_value(db, value, sql_type, transform):
    assert shown(value, sql_type, transform) is None


@pytest.mark.parametrize("transform", [{"kind": "drop table"}, {"kind": "mask", "keep_last": "4; DROP"},
                                       {"kind": "mask", "keep_last": True}, {"kind": "range", "step": 0},
                                       {"kind": "range", "step": float("nan")}, {"kind": "range", "step": float("inf")},
                                       {"kind": "range", "step": "1) OR (1"}, "mask"])
def test_bad_transforms_are_refused_at_approval_and_hide_the_value_when_stored(db, transform):
    with pytest.raises(InvalidRequest):
        validate_transform(transform)
    assert select_expression("t.v", transform) == HIDDEN
    assert shown("110101199001011234", "text", transform) is None


def test_transform_kinds_that_fit_each_field_type():
    assert fitting_kinds("string") == ["clear", "mask", "status"]
    assert fitting_kinds("integer") == ["clear", "mask", "range", "status"]
    assert fitting_kinds("number") == ["clear", "range", "status"]
    assert fitting_kinds("date") == ["clear", "status", "year"]
    assert fitting_kinds("boolean") == ["clear", "status"]


def test_misfit_names_the_field_its_type_and_the_kinds_that_fit():
    with pytest.raises(TransformDoesNotFit) as refused:
        check_fits("name", "string", {"kind": "range", "step": 100})
    assert str(refused.value) == ("field 'name' is of type string: a 'range' transform does not fit it; "
                                  "transforms that fit string fields: clear, mask, status")
    check_fits("employees", "integer", {"kind": "range", "step": 10})
    check_fits("notes", None, {"kind": "range", "step": 10})  # no type in the schema: the SQL guards the read
