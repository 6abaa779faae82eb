"""A CQL2-text subset turned into a parameterised SQL condition (values are bound, never formatted in).

Supported: comparisons (= <> < <= > >=), AND / OR / NOT, LIKE, IN (...), BETWEEN ... AND ...,
IS [NOT] NULL, S_INTERSECTS(geometry, BBOX(...) | WKT), DATE('...') and TIMESTAMP('...').
Property names resolve through the caller's visible fields, so filters see masked values
and hidden fields do not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import shapely

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


class Parser:
    """Recursive descent over the tokens; ``resolve(name)`` gives a visible property's SQL and type."""

    def __init__(self, text: str, resolve: Callable[[str], Property], geometry_sql: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.resolve = resolve
        self.geometry_sql = geometry_sql
        self.params: list = []

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

    def negation(self) -> str:
        if self.keyword("NOT"):
            return f"(NOT {self.negation()})"
        return self.predicate()

    def predicate(self) -> str:
        tok = self.peek()
        if tok is None:
            self.fail("expected a condition")
        if tok.text == "(":
            self.i += 1
            inner = self.disjunction()
            self.expect(")")
            return f"({inner})"
        if tok.kind == "word" and tok.text.upper() == "S_INTERSECTS":
            return self.spatial()
        prop = self.property()
        negate = "NOT " if self.keyword("NOT") else ""
        if self.keyword("LIKE"):
            return f"(({prop.sql})::text {negate}LIKE {self.bind(self.literal(), 'text')})"
        if self.keyword("IN"):
            self.expect("(")
            values = [self.bind(self.literal(), prop.type)]
            while self.peek() is not None and self.peek().text == ",":
                self.i += 1
                values.append(self.bind(self.literal(), prop.type))
            self.expect(")")
            return f"({prop.sql} {negate}IN ({', '.join(values)}))"
        if self.keyword("BETWEEN"):
            low = self.bind(self.literal(), prop.type)
            self.expect("AND")
            high = self.bind(self.literal(), prop.type)
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
        return f"({prop.sql} {op.text} {self.bind(self.literal(), prop.type)})"

    def property(self) -> Property:
        tok = self.peek()
        if tok is None or tok.kind not in ("word", "qid") or (tok.kind == "word" and tok.text.upper() in KEYWORDS):
            self.fail("expected a property name")
        self.i += 1
        name = tok.text[1:-1].replace('""', '"') if tok.kind == "qid" else tok.text
        return self.resolve(name)

    def literal(self):
        tok = self.peek()
        if tok is None:
            self.fail("expected a value")
        self.i += 1
        if tok.kind == "str":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "num":
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "word" and tok.text.upper() in ("TRUE", "FALSE"):
            return tok.text.upper() == "TRUE"
        if tok.kind == "word" and tok.text.upper() in ("DATE", "TIMESTAMP"):
            self.expect("(")
            value = self.literal()
            self.expect(")")
            return str(value)
        self.i -= 1
        self.fail(f"expected a value, not {tok.text!r}")

    def bind(self, value, sql_type: str) -> str:
        """A placeholder for ``value`` converted to the property's type (a clear 400 when it cannot be)."""
        try:
            if sql_type in ("integer", "bigint"):
                value = int(value) if not isinstance(value, float) or value.is_integer() else value
            elif sql_type == "double precision":
                value = float(value)
            elif sql_type == "boolean":
                value = value if isinstance(value, bool) else str(value).lower() in ("true", "1", "t")
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"filter: {value!r} is not a valid {sql_type}") from None
        self.params.append(value)
        return f"%s::{sql_type}" if sql_type in ("date", "timestamp") else "%s"

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
            if len(numbers) != 4 or not all(isinstance(n, int | float) for n in numbers):
                self.fail("BBOX needs four numbers")
            return shapely.box(*numbers).wkt
        if name not in WKT_TYPES:
            self.fail(f"unsupported geometry {tok.text!r}")
        start = tok.pos
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
            return shapely.from_wkt(self.text[start:end]).wkt
        except shapely.errors.ShapelyError as exc:
            raise InvalidRequest(f"filter: invalid WKT geometry: {exc}") from None


def to_sql(text: str, resolve: Callable[[str], Property], geometry_sql: str = "t.gp_geom") -> tuple[str, list]:
    """``(sql, params)`` for a CQL2-text filter; InvalidRequest (HTTP 400) naming the problem."""
    if len(text) > 10_000:
        raise InvalidRequest("filter: longer than 10,000 characters")
    return Parser(text, resolve, geometry_sql).parse()
