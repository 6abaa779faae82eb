"""Property tests (hypothesis) for the catalog's pure parsers: query parameters and masking specs.

Whatever text a caller sends, a parser answers with a value or its own typed error (InvalidRequest,
a 400), never another exception (a 500); values that are valid survive a round trip through text.
The masking SQL is run in the real PostgreSQL over generated values of every column type: a read
must never fail, whatever spec was stored. Seeds are fixed (derandomize) and examples bounded.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.api.params import int_param, parse_bbox, parse_bool, parse_datetime_value
from catalog.errors import InvalidRequest
from catalog.masking import KINDS, select_expression, validate_transform

PROPERTY_SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, database=None)
DB_SETTINGS = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
number_text = st.one_of(finite.map(repr), st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "1,5", "0x10"]),
                        st.text(max_size=8))
bbox_text = st.one_of(st.lists(number_text, min_size=0, max_size=7).map(",".join), st.text(max_size=40))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
specs = st.one_of(
    st.fixed_dictionaries({"kind": st.sampled_from(KINDS)},
                          optional={"keep_last": json_values | st.integers(-5, 40),
                                    "step": json_values | st.floats() | st.integers(-5, 10**6)}),
    json_values)


def refused_or(parse, *args, **kwargs):
    """The parser's result, or None when it refused with its own typed error."""
    try:
        return parse(*args, **kwargs)
    except InvalidRequest:
        return None


@PROPERTY_SETTINGS
@given(text=bbox_text, lat_first=st.booleans(), degrees=st.booleans())
def test_any_bbox_text_is_a_box_or_a_400(text, lat_first, degrees):
    box = refused_or(parse_bbox, text, lat_first=lat_first, degrees=degrees)
    if box is not None:
        west, south, east, north = box
        assert all(math.isfinite(v) for v in box)
        assert west <= east and south <= north
        assert not degrees or -90 <= south <= north <= 90


@PROPERTY_SETTINGS
@given(corners=st.lists(finite, min_size=4, max_size=4))
def test_an_ordered_bbox_round_trips_through_text(corners):
    west, east = sorted(corners[:2])
    south, north = sorted(corners[2:])
    assert parse_bbox(",".join(map(repr, (west, south, east, north)))) == (west, south, east, north)
    assert parse_bbox(",".join(map(repr, (south, west, north, east))), lat_first=True) == (west, south, east, north)


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(T[0-9]{2}:[0-9]{2}"
                                                            r":[0-9]{2}(\.[0-9]{1,6})?([+-][0-9]{2}:[0-9]{2}|Z)?)?\Z")))
def test_any_datetime_text_is_an_aware_moment_or_a_400(text):
    moment = refused_or(parse_datetime_value, text, "datetime")
    if moment is not None:
        assert moment.tzinfo is not None and abs(moment.utcoffset()) <= timedelta(hours=14)


@PROPERTY_SETTINGS
@given(moment=moments)
def test_a_real_moment_round_trips_through_rfc3339(moment):
    assert parse_datetime_value(moment.isoformat(), "datetime") == moment


@PROPERTY_SETTINGS
@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)))
def test_a_date_reads_as_its_first_or_last_instant(day):
    start = parse_datetime_value(day.isoformat(), "at")
    end = parse_datetime_value(day.isoformat(), "at", end_of_day=True)
    assert start.date() == end.date() == day and end - start == timedelta(days=1, microseconds=-1)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=10), flag=st.booleans())
def test_booleans_are_read_exactly_or_refused(text, flag):
    assert parse_bool(str(flag), "flag") is flag and parse_bool(str(int(flag)), "flag") is flag
    value = refused_or(parse_bool, text, "flag")
    assert value is None or text.strip().lower() in ("true", "1", "false", "0")


@PROPERTY_SETTINGS
@given(raw=st.one_of(st.text(max_size=12), st.integers().map(str)), low=st.integers(-100, 100),
       span=st.integers(0, 1000))
def test_an_integer_parameter_is_within_its_limits_or_a_400(raw, low, span):
    request = SimpleNamespace(query_params={"limit": raw})
    value = refused_or(int_param, request, "limit", low, low, low + span)
    assert value is None or low <= value <= low + span


@PROPERTY_SETTINGS
@given(spec=specs)
def test_a_masking_spec_is_normalised_idempotently_or_a_400(spec):
    normal = refused_or(validate_transform, spec)
    if normal is not None:
        assert validate_transform(normal) == normal and normal["kind"] in KINDS
        assert select_expression('"v"', normal) == select_expression('"v"', spec)


COLUMN_VALUES = {
    "text": st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20),
    "bigint": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "numeric": st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**12, max_value=10**12),
    "double precision": st.floats(),
    "date": st.dates(min_value=date(1, 1, 1)),
    "timestamp": st.datetimes(min_value=datetime(1, 1, 1)),
    "timestamptz": st.datetimes(min_value=datetime(2, 1, 1), timezones=st.just(UTC)),
    "boolean": st.booleans(),
}


@pytest.mark.django_db
@DB_SETTINGS
@given(data=st.data(), sql_type=st.sampled_from(sorted(COLUMN_VALUES)), spec=specs)
def test_masked_reads_never_fail_in_postgresql(data, sql_type, spec):
    """Whatever spec a grant holds and whatever a column of any type holds, the masked read answers
    (a range of a text, a year of a number: the value hidden), as issue 11 §3 asks: never fail at read time."""
    value = data.draw(st.none() | COLUMN_VALUES[sql_type])
    expression = select_expression('"v"', spec)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SELECT ({expression})::text FROM (SELECT %s::{sql_type} AS "v") AS t', [value])
        shown = cursor.fetchone()[0]
    normal = refused_or(validate_transform, spec)
    if normal is None:
        assert shown is None, "an invalid stored spec hides the value"
    elif normal["kind"] == "status":
        assert shown in ("有", "无")
    elif normal["kind"] == "mask" and shown is not None:
        assert set(shown[:-normal["keep_last"] or None]) <= {"*"}
