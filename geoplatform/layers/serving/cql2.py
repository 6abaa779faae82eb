"""A CQL2-text subset turned into a parameterised SQL condition (values are bound, never formatted in).

Supported: comparisons (= <> < <= > >=), AND / OR / NOT, LIKE, IN (...), BETWEEN ... AND ...,
IS [NOT] NULL, S_INTERSECTS(geometry, BBOX(...) | WKT), DATE('...') and TIMESTAMP('...').
Property names resolve through the caller's visible fields, so filters see masked values
and hidden fields do not exist. Every literal is checked against its property's type here
(``day = 'garbage'`` is a 400 naming the field), so PostgreSQL never sees a value it would
refuse; nesting is bounded (:data:`MAX_DEPTH`) so no filter can exhaust the parser's stack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely
from django.utils.dateparse import parse_datetime

from catalog.api.params import FALSE_WORDS, MAX_UTC_OFFSET, TRUE_WORDS
from catalog.errors import InvalidRequest

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")+")
  | (?P<op><>|<=|>=|=|<|>|\(|\)|,)
  | (?P<word>[^\s'"(),=<>]+)
""", re.VERBOSE)
KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE", "S_INTERSECTS",
            "BBOX", "DATE", "TIMESTAMP"}
WKT_TYPES = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON"}
GEOMETRY_NAMES = {"geometry", "geom", "the_geom", "shape"}
#: Deepest nesting of parentheses and NOTs; real filters use a handful, 50 leaves room and keeps the
#: recursive descent (and PostgreSQL's expression parser) far from any stack limit.
MAX_DEPTH = 50
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
TYPE_NAMES = {"integer": "an integer", "bigint": "an integer", "double precision": "a number",
              "boolean": "a boolean", "date": "a date", "timestamp": "a timestamp", "text": "text"}
EXPECTED = {
    "integer": "not a valid integer",
    "bigint": "not a valid integer",
    "double precision": "not a valid number",
    "boolean": f"not true or false (accepted: {', '.join(TRUE_WORDS + FALSE_WORDS)})",
    "date": "not a date (YYYY-MM-DD)",
    "timestamp": "not a date-time (YYYY-MM-DDTHH:MM:SS with an optional UTC offset, or YYYY-MM-DD)",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise InvalidRequest(f"filter: unexpected character {text[pos]!r} at position {pos + 1}")
        if m.lastgroup != "ws":
            out.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    return out


@dataclass
class Property:
    sql: str
    type: str
    name: str = ""


def _integer(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value if isinstance(value, int) else int(value)


def _number(value) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError


def _date(value) -> str:
    if not isinstance(value, str) or not DATE_TEXT.fullmatch(value.strip()):
        raise ValueError
    return date.fromisoformat(value.strip()).isoformat()


def _timestamp(value) -> str:
    if not isinstance(value, str):
        raise ValueError
    text = value.strip()
    if DATE_TEXT.fullmatch(text):
        return date.fromisoformat(text).isoformat() + "T00:00:00"
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError
    if moment.utcoffset() is not None and abs(moment.utcoffset()) > MAX_UTC_OFFSET:
        raise ValueError("the UTC offset must be within ±14:00")
    return moment.isoformat()


CONVERTERS = {"integer": _integer, "bigint": _integer, "double precision": _number, "boolean": _boolean,
              "date": _date, "timestamp": _timestamp}


def typed_value(value, sql_type: str, name: str):
    """``value`` as a parameter for a property of ``sql_type``; InvalidRequest naming the field otherwise.

    PostgreSQL would refuse ``'garbage'::date`` with an error (a 500 for the caller), and a boolean read
    leniently would turn ``maybe`` into false: each value is checked and converted here instead.
    """
    convert = CONVERTERS.get(sql_type, str)
    try:
        return convert(value)
    except (TypeError, ValueError, OverflowError) as exc:
        why = f": {exc}" if str(exc) and sql_type in ("date", "timestamp") else ""
        raise InvalidRequest(f"field {name} is {TYPE_NAMES.get(sql_type, sql_type)}: {value!r} is "
                             f"{EXPECTED.get(sql_type, 'not a valid ' + sql_type)}{why}") from None


def placeholder(sql_type: str) -> str:
    """The bound parameter, cast where psycopg would send text (dates and timestamps)."""
    return f"%s::{sql_type}" if sql_type in ("date", "timestamp") else "%s"


class Parser:
    """Recursive descent over the tokens; ``resolve(name)`` gives a visible property's SQL and type."""

    def __init__(self, text: str, resolve: Callable[[str], Property], geometry_sql: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.resolve = resolve
        self.geometry_sql = geometry_sql
        self.params: list = []
        self.depth = 0

    def fail(self, what: str):
        where = self.tokens[self.i].pos + 1 if self.i < len(self.tokens) else len(self.text)
        raise InvalidRequest(f"filter: {what} at position {where}")

    def peek(self, n: int = 0) -> Token | None:
        return self.tokens[self.i + n] if self.i + n < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok is None or (tok.text.upper() if tok.kind == "word" else tok.text) != text:
            self.fail(f"expected {text!r}")
        self.i += 1

    def parse(self) -> tuple[str, list]:
        sql = self.disjunction()
        if self.peek() is not None:
            self.fail(f"unexpected {self.peek().text!r}")
        return sql, self.params

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.keyword("AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def enter(self, levels: int) -> None:
        """Count ``levels`` more of nesting (parentheses, NOTs); a clear 400 beyond :data:`MAX_DEPTH`."""
        self.depth += levels
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep (parentheses and NOTs); simplify the filter")

    def negation(self) -> str:
        nots = 0
        while self.keyword("NOT"):
            nots += 1
            self.enter(1)
        sql = self.predicate()
        self.depth -= nots
        return "(NOT " * nots + sql + ")" * nots

    def predicate(self) -> str:
        tok = self.peek()
        if tok is None:
            self.fail("expected a condition")
        if tok.text == "(":
            self.i += 1
            self.enter(1)
            inner = self.disjunction()
            self.expect(")")
            self.depth -= 1
            return f"({inner})"
        if tok.kind == "word" and tok.text.upper() == "S_INTERSECTS":
            return self.spatial()
        prop = self.property()
        negate = "NOT " if self.keyword("NOT") else ""
        if self.keyword("LIKE"):
            return f"(({prop.sql})::text {negate}LIKE {self.bind(self.literal(), Property('', 'text', prop.name))})"
        if self.keyword("IN"):
            self.expect("(")
            values = [self.bind(self.literal(), prop)]
            while self.peek() is not None and self.peek().text == ",":
                self.i += 1
                values.append(self.bind(self.literal(), prop))
            self.expect(")")
            return f"({prop.sql} {negate}IN ({', '.join(values)}))"
        if self.keyword("BETWEEN"):
            low = self.bind(self.literal(), prop)
            self.expect("AND")
            high = self.bind(self.literal(), prop)
            return f"({prop.sql} {negate}BETWEEN {low} AND {high})"
        if negate:
            self.fail("expected LIKE, IN or BETWEEN after NOT")
        if self.keyword("IS"):
            neg = "NOT " if self.keyword("NOT") else ""
            self.expect("NULL")
            return f"({prop.sql} IS {neg}NULL)"
        op = self.peek()
        if op is None or op.text not in ("=", "<>", "<", "<=", ">", ">="):
            self.fail("expected a comparison operator")
        self.i += 1
        return f"({prop.sql} {op.text} {self.bind(self.literal(), prop)})"

    def property(self) -> Property:
        tok = self.peek()
        if tok is None or tok.kind not in ("word", "qid") or (tok.kind == "word" and tok.text.upper() in KEYWORDS):
            self.fail("expected a property name")
        self.i += 1
        name = tok.text[1:-1].replace('""', '"') if tok.kind == "qid" else tok.text
        prop = self.resolve(name)
        return prop if prop.name else Property(prop.sql, prop.type, name)

    def literal(self):
        tok = self.peek()
        if tok is None:
            self.fail("expected a value")
        self.i += 1
        if tok.kind == "str":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "num":
            try:
                return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            except ValueError:  # more digits than Python converts (4,300)
                self.i -= 1
                self.fail("number too long")
        if tok.kind == "word" and tok.text.upper() in ("TRUE", "FALSE"):
            return tok.text.upper() == "TRUE"
        if tok.kind == "word" and tok.text.upper() in ("DATE", "TIMESTAMP"):
            self.expect("(")
            value = self.literal()
            self.expect(")")
            return str(value)
        self.i -= 1
        self.fail(f"expected a value, not {tok.text!r}")

    def bind(self, value, prop: Property) -> str:
        """A placeholder for ``value`` converted to the property's type (a clear 400 when it cannot be)."""
        try:
            self.params.append(typed_value(value, prop.type, prop.name))
        except InvalidRequest as exc:
            raise InvalidRequest(f"filter: {exc}") from None
        return placeholder(prop.type)

    def spatial(self) -> str:
        self.i += 1
        self.expect("(")
        tok = self.peek()
        if tok is None or tok.text.lower() not in GEOMETRY_NAMES:
            self.fail("S_INTERSECTS needs the geometry property first")
        self.i += 1
        self.expect(",")
        wkt = self.geometry_literal()
        self.expect(")")
        self.params.append(wkt)
        return f"ST_Intersects({self.geometry_sql}, ST_GeomFromText(%s, 4490))"

    def geometry_literal(self) -> str:
        tok = self.peek()
        if tok is None or tok.kind != "word":
            self.fail("expected BBOX(...) or a WKT geometry")
        name = tok.text.upper()
        if name == "BBOX":
            self.i += 1
            self.expect("(")
            numbers = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":
                self.i += 1
                numbers.append(self.literal())
            self.expect(")")
            if len(numbers) != 4 or not all(isinstance(n, int | float) and not isinstance(n, bool)
                                            and math.isfinite(n) for n in numbers):
                self.fail("BBOX needs four numbers, all finite")
            return shapely.box(*numbers).wkt
        if name not in WKT_TYPES:
            self.fail(f"unsupported geometry {tok.text!r}")
        start, start_index = tok.pos, self.i
        self.i += 1
        depth = 0
        while self.peek() is not None:
            t = self.peek()
            depth += t.text == "("
            depth -= t.text == ")"
            self.i += 1
            if depth == 0:
                break
        end = self.tokens[self.i - 1].pos + 1
        try:
            with np.errstate(over="ignore"):  # 1e400 reads as infinity, refused below
                geometry = shapely.from_wkt(self.text[start:end])
        except shapely.errors.ShapelyError as exc:
            raise InvalidRequest(f"filter: invalid WKT geometry: {exc}") from None
        if not np.isfinite(shapely.get_coordinates(geometry)).all():
            self.i = start_index
            self.fail("the WKT geometry has a coordinate that is not a finite number")
        return geometry.wkt


def to_sql(text: str, resolve: Callable[[str], Property], geometry_sql: str = "t.gp_geom") -> tuple[str, list]:
    """``(sql, params)`` for a CQL2-text filter; InvalidRequest (HTTP 400) naming the problem."""
    if len(text) > 10_000:
        raise InvalidRequest("filter: longer than 10,000 characters")
    return Parser(text, resolve, geometry_sql).parse()
