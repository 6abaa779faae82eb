"""Creating, checking and revoking API keys.

A key reads ``gp_<id>_<secret>``: the 8-character id finds the row, the SHA-256 of the
whole key is compared in constant time. The key has 256 bits of randomness, so a fast
hash is enough (a slow password hash would cost every tile request).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.utils import timezone

from catalog.errors import KeyRejected
from catalog.models import ApiKey, Department

KEY_RE = re.compile(r"^gp_([a-z2-7]{8})_([A-Za-z0-9_-]{43})$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(department: Department, name: str, expires_days: int | None = None,
                   created_by=None) -> tuple[ApiKey, str]:
    """Make a key for ``department``'s application ``name``; returns the row and the key (shown once)."""
    if expires_days is not None and expires_days <= 0:
        raise ValueError("expires_days must be a positive number of days")
    while True:
        prefix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    raw = f"gp_{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    key = ApiKey.objects.create(department=department, name=name, prefix=prefix, key_hash=hash_key(raw),
                                expires_at=expires_at, created_by=created_by)
    return key, raw


def verify_api_key(raw: str) -> ApiKey:
    """The active key ``raw`` names, or KeyRejected saying why not (malformed, unknown, revoked, expired)."""
    match = KEY_RE.match(raw.strip())
    if not match:
        raise KeyRejected("malformed API key (expected gp_<id>_<secret>)")
    key = ApiKey.objects.select_related("department").filter(prefix=match.group(1)).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw.strip())):
        raise KeyRejected("unknown API key")
    now = timezone.now()
    if key.revoked_at is not None:
        raise KeyRejected(f"API key gp_{key.prefix} was revoked at {key.revoked_at:%Y-%m-%d %H:%M %Z}")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRejected(f"API key gp_{key.prefix} expired at {key.expires_at:%Y-%m-%d %H:%M %Z}")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def revoke_api_key(key_id: str) -> ApiKey:
    """Revoke the key whose id (``gp_xxxxxxxx`` or ``xxxxxxxx``) or whole value is given."""
    ident = key_id.strip()
    match = KEY_RE.match(ident)
    prefix = match.group(1) if match else ident.removeprefix("gp_")
    key = ApiKey.objects.filter(prefix=prefix).first()
    if key is None:
        raise ApiKey.DoesNotExist(f"no API key with id gp_{prefix}")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
