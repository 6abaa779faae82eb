"""Property tests (hypothesis) for the layer readers' pure parsers: CQL2-text filters, CRS and datetime.

Any text is either understood or refused with the module's own typed error (InvalidRequest, a 400),
never another exception; a filter built from the grammar is whitespace-insensitive, binds every value
as a parameter (none is formatted into the SQL), and the SQL it gives runs in the real PostgreSQL over
a table with a column of every type the layers store. Seeds fixed (derandomize), examples bounded.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import InvalidRequest
from geoplatform.layers.serving import cql2
from geoplatform.layers.serving.access import parse_moment
from geoplatform.layers.serving.features import CRS_URIS, crs_uri, parse_crs

PROPERTY_SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, database=None)
DB_SETTINGS = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

FIELDS = {"staff": "integer", "big": "bigint", "ratio": "double precision", "name": "text", "day": "date",
          "ts": "timestamp", "open": "boolean"}


def resolve(name: str) -> cql2.Property:
    """As LayerAccess.field does: a visible field's SQL and type, InvalidRequest for any other name."""
    if name not in FIELDS:
        raise InvalidRequest(f"unknown property {name!r}")
    return cql2.Property(f't."{name}"', FIELDS[name])


def parsed_or_none(text: str):
    try:
        return cql2.to_sql(text, resolve)
    except InvalidRequest:
        return None


# The grammar, as token lists (so that whitespace between tokens can be varied).
def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


string_values = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                        max_size=12)
literals = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
    string_values.map(quoted), st.sampled_from(["TRUE", "FALSE"]),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z").map(lambda d: f"DATE({quoted(d)})"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?\Z").map(
        lambda d: f"TIMESTAMP({quoted(d)})"))
names = st.sampled_from([*FIELDS, "nope"])


@st.composite
def condition(draw) -> list[str]:
    name = draw(names)
    form = draw(st.sampled_from(["compare", "like", "in", "between", "null", "spatial"]))
    if form == "compare":
        return [name, draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="])), draw(literals)]
    if form == "like":
        return [name, *draw(st.sampled_from([[], ["NOT"]])), "LIKE", quoted(draw(string_values))]
    if form == "in":
        values = draw(st.lists(literals, min_size=1, max_size=4))
        return [name, "IN", "(", *sum(([v, ","] for v in values), [])[:-1], ")"]
    if form == "between":
        return [name, "BETWEEN", draw(literals), "AND", draw(literals)]
    if form == "null":
        return [name, "IS", *draw(st.sampled_from([[], ["NOT"]])), "NULL"]
    corners = draw(st.lists(st.floats(-200, 200, allow_nan=False).map(lambda f: f"{f:.2f}"), min_size=4, max_size=4))
    return ["S_INTERSECTS", "(", "geometry", ",", "BBOX", "(", *sum(([c, ","] for c in corners), [])[:-1], ")", ")"]


filters = st.recursive(
    condition(),
    lambda inner: st.one_of(inner.map(lambda t: ["(", *t, ")"]), inner.map(lambda t: ["NOT", *t]),
                            st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda p: [*p[0], p[1], *p[2]])),
    max_leaves=6)


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=60), filters.map(" ".join)))
def test_any_filter_text_is_sql_or_a_400(text):
    result = parsed_or_none(text)
    if result is not None:
        sql, params = result
        assert sql.count("%s") == len(params)


@PROPERTY_SETTINGS
@given(tokens=filters, gaps=st.lists(st.sampled_from([" ", "  ", "\t", "\n", " \r\n "]), min_size=64, max_size=64))
def test_filters_are_whitespace_insensitive(tokens, gaps):
    spaced = "".join(tok + gaps[i % len(gaps)] for i, tok in enumerate(tokens))
    assert parsed_or_none(" ".join(tokens)) == parsed_or_none(spaced)


@PROPERTY_SETTINGS
@given(value=string_values.filter(lambda v: len(v) >= 3), name=st.sampled_from(["name", "day", "staff"]))
def test_values_are_bound_never_formatted_into_the_sql(value, name):
    result = parsed_or_none(f"{name} = {quoted(value)}")
    if result is not None:
        sql, params = result
        assert value not in sql and len(params) == 1


@PROPERTY_SETTINGS
@given(depth=st.integers(0, 3000), wrap=st.sampled_from(["()", "NOT "]))
def test_deep_nesting_is_sql_or_a_400_never_a_crash(depth, wrap):
    inner = "staff > 1"
    text = ("(" * depth + inner + ")" * depth) if wrap == "()" else ("NOT " * depth + inner)
    if len(text) <= 10_000 and depth <= cql2.MAX_DEPTH:
        assert parsed_or_none(text) is not None
    else:
        with pytest.raises(InvalidRequest):
            cql2.to_sql(text, resolve)


@pytest.fixture
def typed_table(db):
    """A table with a column of each type the layers store, and a row of each kind of value."""
    columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in FIELDS.items())
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE fuzz_rows (gp_geom geometry(Geometry, 4490), {columns})")
        cursor.execute("INSERT INTO fuzz_rows VALUES (ST_GeomFromText('POINT(116.4 39.9)', 4490), 10, 2^40, 0.5, "
                       "'甲公司', '2025-01-31', '2025-01-31 08:00', true), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                       "NULL)")
    return "fuzz_rows"


@DB_SETTINGS
@given(tokens=filters)
def test_every_filter_the_parser_accepts_runs_in_postgresql(typed_table, tokens):
    """The parser is the only gate before PostgreSQL: what it lets through must not be a database error
    (a 500 for the caller), e.g. a date that PostgreSQL cannot read or a number out of a column's range."""
    result = parsed_or_none(" ".join(tokens))
    if result is None:
        return
    sql, params = result
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {typed_table} AS t WHERE {sql}", params)
        assert cursor.fetchone()[0] in (0, 1, 2)


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=40), st.sampled_from(sorted(CRS_URIS)),
                      st.integers(0, 99999).map(lambda n: f"EPSG:{n}")))
def test_any_crs_text_is_a_supported_crs_or_a_400(text):
    try:
        srid = parse_crs(text)
    except InvalidRequest:
        return
    assert srid is None or srid in CRS_URIS.values()
    assert parse_crs(crs_uri(srid)) == srid


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(max_size=40), st.from_regex(
    r"\A(\.\.|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?)?)"
    r"(/(\.\.|[0-9]{4}-[0-9]{2}-[0-9]{2}))?\Z")))
def test_any_datetime_parameter_is_a_moment_now_or_a_400(text):
    try:
        moment = parse_moment(text, "datetime")
    except InvalidRequest:
        return
    assert moment is None or moment.tzinfo is not None
