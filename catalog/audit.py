"""Writing and verifying the audit log.

Each row's hash is SHA-256 over the previous row's hash and the row's own content, so
changing, removing or inserting a row breaks the chain from there on; the database
refuses UPDATE and DELETE outright. Writers serialise on an advisory lock so the chain
stays linear with several web processes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import AuditEvent, AuditResult, TileUsage
from catalog.redact import redact

GENESIS = "0" * 64
_LOCK_KEY = 7_240_301  # pg_advisory_xact_lock key of the audit chain
CHAINED_FIELDS = ("at", "request_id", "department", "api_key", "username", "entry", "action", "allowed",
                  "reason", "grant_id", "purpose", "client", "path")


def canonical_content(values: dict) -> str:
    """The chained fields of a row as the JSON its hash covers (sorted keys, no spaces)."""
    content = {name: values[name] for name in CHAINED_FIELDS}
    content["at"] = content["at"].isoformat(timespec="microseconds") if content["at"] else None
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(prev_hash: str, values: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_content(values)).encode()).hexdigest()


def request_id(request) -> str:
    """The proxy's X-Request-ID when it sent one, else one made here (kept on the request)."""
    base = getattr(request, "_request", request)
    if not getattr(base, "geoplatform_request_id", None):
        given = base.META.get("HTTP_X_REQUEST_ID", "")[:64]
        base.geoplatform_request_id = given or uuid.uuid4().hex
    return base.geoplatform_request_id


def client_address(request) -> str:
    from django.conf import settings

    meta = getattr(request, "_request", request).META
    if getattr(settings, "GEOPLATFORM_TRUST_FORWARDED_FOR", False) and meta.get("HTTP_X_FORWARDED_FOR"):
        return meta["HTTP_X_FORWARDED_FOR"].split(",")[0].strip()[:64]
    return meta.get("REMOTE_ADDR", "")[:64]


_COLUMNS = ", ".join(CHAINED_FIELDS)
# The INSERT reads the last hash and computes the new one itself (PostgreSQL's sha256 over the same text as
# row_hash), so the chain's lock is held over one more statement only, not over round trips and Python work.
_APPEND_SQL = (
    f"INSERT INTO {AuditEvent._meta.db_table} ({_COLUMNS}, prev_hash, hash) "
    f"SELECT {', '.join(f'%({name})s' for name in CHAINED_FIELDS)}, last.hash, "
    "encode(sha256(convert_to(last.hash || %(canonical)s, 'UTF8')), 'hex') "
    f"FROM (SELECT coalesce((SELECT hash FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 1), "
    "%(genesis)s) AS hash) AS last RETURNING id")


def append_event(**values) -> int:
    """Append one row to the chain (in its own transaction, whatever the caller's state); returns its id.

    Every text is redacted first (catalog.redact): a path may carry an API key as ``?token=``, and a
    row once written can never be changed. The advisory lock serialises writers; the INSERT runs after it
    in a statement of its own, so its snapshot sees the row the previous holder committed.
    """
    values.setdefault("at", timezone.now())
    for name in CHAINED_FIELDS:
        values.setdefault(name, None if name == "grant_id" else "")
        if isinstance(values[name], str):
            values[name] = redact(values[name])
    params = {**{name: values[name] for name in CHAINED_FIELDS}, "canonical": canonical_content(values),
              "genesis": GENESIS}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cursor.execute(_APPEND_SQL, params)
            return cursor.fetchone()[0]


def record_decision(decision, request, *, purpose: str = "", entry_slug: str | None = None) -> int:
    """Audit one access decision, allowed or denied; returns the row id."""
    principal = decision.principal
    return append_event(
        request_id=request_id(request) if request is not None else "",
        department=principal.department.code if principal and principal.department else "",
        api_key=principal.api_key.prefix if principal and principal.api_key else "",
        username=principal.user.get_username() if principal and principal.user else "",
        entry=entry_slug or (decision.entry.slug if decision.entry else ""),
        action=str(decision.action),
        allowed=decision.allowed,
        reason=decision.reason[:1000],
        grant_id=decision.grant_id,
        purpose=purpose[:1000],
        client=client_address(request) if request is not None else "",
        path=getattr(request, "get_full_path", lambda: "")()[:2000] if request is not None else "",
    )


def audit_request(request, action: str, *, entry: str = "", allowed: bool = True, reason: str = "",
                  purpose: str = "") -> int:
    """Audit a request that is not an access decision on one entry (a search, a workflow step)."""
    principal = request.user
    return append_event(
        request_id=request_id(request), department=principal.department.code if principal.department else "",
        api_key=principal.api_key.prefix if principal.api_key else "",
        username=principal.user.get_username() if principal.user else "", entry=entry, action=action,
        allowed=allowed, reason=reason[:1000], purpose=purpose[:1000], client=client_address(request),
        path=request.get_full_path()[:2000])


def record_result(decision, rows: int | None = None, bytes: int | None = None) -> None:
    """Append what an allowed access returned."""
    if decision.audit_id is not None:
        AuditResult.objects.create(event_id=decision.audit_id, at=timezone.now(), rows=rows, bytes=bytes)


class TileCounter:
    """Tile requests counted in memory and added to TileUsage at most every ``interval`` seconds.

    One UPDATE per tile would make every map screen a burst of row-lock contention on the
    same counter row; batching keeps the count exact up to the last ``interval`` seconds of
    a process that dies.
    """

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.pending: dict[tuple, list[int]] = {}
        self.last_flush = time.monotonic()
        self.lock = threading.Lock()

    def add(self, principal, entry_slug: str, allowed: bool, size: int = 0) -> None:
        key = (timezone.localdate(), principal.department.code if principal.department else "",
               principal.api_key.prefix if principal.api_key else "", entry_slug)
        with self.lock:
            counts = self.pending.setdefault(key, [0, 0, 0])
            counts[0] += 1
            counts[1] += 0 if allowed else 1
            counts[2] += size
            due = time.monotonic() - self.last_flush >= self.interval
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
            self.last_flush = time.monotonic()
        if not pending:
            return
        rows = [(day, dept, key, entry, *counts) for (day, dept, key, entry), counts in pending.items()]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {TileUsage._meta.db_table} (day, department, api_key, entry, requests, denied, bytes) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (day, department, api_key, entry) DO UPDATE SET "
                "requests = EXCLUDED.requests + t.requests, denied = EXCLUDED.denied + t.denied, "
                "bytes = EXCLUDED.bytes + t.bytes".replace(
                    f"INTO {TileUsage._meta.db_table}", f"INTO {TileUsage._meta.db_table} AS t"),
                rows)


tile_counter = TileCounter()


def count_tile(principal, entry_slug: str, allowed: bool, size: int = 0) -> None:
    """Count a tile request for the day instead of writing a row per tile."""
    tile_counter.add(principal, entry_slug, allowed, size)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; name the first row whose content or link does not match."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")
                    .values("id", "prev_hash", "hash", *CHAINED_FIELDS)[:batch])
        if not rows:
            return ChainReport(True, count)
        for row in rows:
            if row["prev_hash"] != prev:
                return ChainReport(False, count, row["id"], "its link to the previous row is broken "
                                   "(a row before it was removed or inserted)")
            if row_hash(prev, row) != row["hash"]:
                return ChainReport(False, count, row["id"], "its content does not match its hash (altered)")
            prev = row["hash"]
            count += 1
            last_id = row["id"]
