"""Finding API keys that were written down before redaction existed (audit rows, log files).

Audit rows are append-only and hash-chained, so a key stored in one cannot be removed: the remedy is to
revoke the key. :func:`find_leaked_keys` reads the stored texts, keeps only real keys (the whole key
matches a stored hash, so a look-alike string is not reported) and says where each was seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from django.db.models import Q

from catalog.keys import KEY_RE, hash_key
from catalog.models import ApiKey, AuditEvent

_KEY_IN_TEXT = re.compile(r"gp_[a-z2-7]{8}_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
_AUDIT_TEXT_FIELDS = ("path", "reason", "purpose", "client", "request_id", "username")


@dataclass
class LeakedKey:
    """A real key found in clear, and where: audit row ids and log files (with a line number)."""

    key: ApiKey
    audit_rows: list[int] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.key.revoked_at is None


def keys_in_text(text: str) -> set[str]:
    """Every string shaped like a whole API key in ``text``, also when it was percent-encoded."""
    found = set(_KEY_IN_TEXT.findall(text))
    if "%" in text:
        found |= set(_KEY_IN_TEXT.findall(unquote(text)))
    return found


def audit_texts() -> Iterator[tuple[int, str]]:
    """(row id, text) of every audit row that may hold a key, read in id order in batches."""
    maybe = Q()
    for name in _AUDIT_TEXT_FIELDS:
        maybe |= Q(**{f"{name}__contains": "gp_"}) | Q(**{f"{name}__icontains": "gp%5f"})
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(maybe, id__gt=last).order_by("id")
                    .values_list("id", *_AUDIT_TEXT_FIELDS)[:5000])
        if not rows:
            return
        for row_id, *texts in rows:
            yield row_id, "\n".join(texts)
        last = rows[-1][0]


def log_texts(paths: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """("file:line", line) for every line of the given log files (folders: their ``*.log`` files)."""
    for path in paths:
        files = sorted(path.rglob("*.log")) if path.is_dir() else [path]
        for file in files:
            with open(file, encoding="utf-8", errors="replace") as lines:
                for number, line in enumerate(lines, 1):
                    if "gp_" in line or "gp%5" in line.lower():
                        yield f"{file}:{number}", line


def find_leaked_keys(log_paths: Iterable[Path] = ()) -> list[LeakedKey]:
    """The real keys present in clear in stored audit rows or the given logs, most recently created first."""
    found: dict[str, LeakedKey] = {}
    not_keys: set[str] = set()

    def leak_of(raw: str) -> LeakedKey | None:
        prefix = KEY_RE.match(raw).group(1)
        if raw in not_keys:
            return None
        if prefix not in found or found[prefix].key.key_hash != hash_key(raw):
            key = ApiKey.objects.select_related("department").filter(prefix=prefix).first()
            if key is None or key.key_hash != hash_key(raw):
                not_keys.add(raw)
                return None
            found[prefix] = LeakedKey(key)
        return found[prefix]

    for row_id, text in audit_texts():
        for leak in filter(None, map(leak_of, keys_in_text(text))):
            leak.audit_rows.append(row_id)
    for where, line in log_texts(log_paths):
        for leak in filter(None, map(leak_of, keys_in_text(line))):
            leak.log_lines.append(where)
    return sorted(found.values(), key=lambda leak: leak.key.created_at, reverse=True)
