"""Masking and coarsening run in SQL: checked on the real database with real values."""

import pytest
from django.db import connection

from catalog.errors import InvalidRequest
from catalog.masking import select_expression


def shown(value, transform):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select_expression('(%(v)s)::text', transform)}", {"v": value})
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("value", "transform", "result"), [
    ("110101199003071234", {"kind": "mask", "keep_last": 4}, "**************1234"),
    ("91110000MA01ABCD2X", {"kind": "mask", "keep_last": 6}, "************ABCD2X"),
    ("123", {"kind": "mask", "keep_last": 4}, "123"),
    (None, {"kind": "mask", "keep_last": 4}, None),
    ("张三", {"kind": "mask", "keep_last": 0}, "**"),
    ("153", {"kind": "range", "step": 100}, "100-200"),
    ("-5", {"kind": "range", "step": 10}, "-10-0"),
    ("not a number", {"kind": "range", "step": 10}, None),
    ("13800138000", {"kind": "status"}, "有"),
    ("", {"kind": "status"}, "无"),
    ("2021-05-03", {"kind": "year"}, "2021"),
    ("as is", {"kind": "clear"}, "as is"),
    ("as is", None, "as is"),
])
def test_transform_in_sql(db, value, transform, result):
    assert shown(value, transform) == result


@pytest.mark.parametrize("transform", [{"kind": "drop table"}, {"kind": "mask", "keep_last": "4; DROP"},
                                       {"kind": "range", "step": 0}, {"kind": "range", "step": "1) OR (1"}, "mask"])
def test_bad_transforms_are_refused_before_any_sql(transform):
    with pytest.raises(InvalidRequest):
        select_expression("x", transform)
