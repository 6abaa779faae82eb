"""Signed, expiring tile tokens: the access decision made once, carried in every tile URL.

TileJSON and WMTS capabilities ask the catalog (database) whether the caller may read a
collection, then embed a token in the tile URL template. A tile request checks only the token's
HMAC (Django's SECRET_KEY) and expiry, so drawing a map screen costs no database round trip.
The price: revoking the key or the grant stops tiles only when the token expires
(GEOPLATFORM_IMAGERY_TOKEN_HOURS, default 12), while capabilities and TileJSON stop at once.

Token: ``gpt1.<base64url "dept|key|slug|expiry">.<base64url HMAC-SHA256>``; the ``gpt1.`` prefix
tells it apart from an API key (``gp_...``) on the same ``token`` parameter.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from catalog.errors import KeyRejected
from tiles import conf

PREFIX = "gpt1."
_SALT = "geoplatform.tiles.token"


class TileTokenRejected(KeyRejected):
    """A tile token that is malformed, forged or expired (401, with the reason)."""


@dataclass(frozen=True)
class _Code:
    code: str


@dataclass(frozen=True)
class _KeyId:
    prefix: str


@dataclass(frozen=True)
class TileToken:
    """Who a token was issued to, for which collection, until when (epoch seconds).

    ``department`` and ``api_key`` mirror a catalog Principal so the tile counter can use it.
    """

    department: _Code
    api_key: _KeyId | None
    slug: str
    expires: int

    @property
    def slugs(self) -> tuple[str, ...]:
        """The collections the token opens (one, or for a WMTS KVP GetTile URL every readable one)."""
        return tuple(self.slug.split(","))

    @property
    def label(self) -> str:
        return f"{self.department.code}/gp_{self.api_key.prefix}" if self.api_key else self.department.code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str) -> str:
    return _b64(salted_hmac(_SALT, payload, algorithm="sha256").digest())


def issue_tile_token(department_code: str, key_id: str, slug: str, hours: float | None = None,
                     now: float | None = None) -> str:
    """A token letting ``department_code`` (through key ``key_id``) read ``slug``'s tiles for ``hours``
    (``slug`` may list several collections, comma-separated)."""
    expires = int((now if now is not None else time.time()) + 3600 * (conf.token_hours() if hours is None else hours))
    payload = "|".join((department_code, key_id, slug, str(expires)))
    return f"{PREFIX}{_b64(payload.encode())}.{_signature(payload)}"


def is_tile_token(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


def verify_tile_token(token: str, now: float | None = None) -> TileToken:
    """The token's claims when its signature holds and it has not expired; TileTokenRejected saying why otherwise."""
    body = token[len(PREFIX):] if token.startswith(PREFIX) else ""
    encoded, _, signature = body.partition(".")
    if not encoded or not signature:
        raise TileTokenRejected("malformed tile token: get a new one from the TileJSON or WMTS capabilities")
    try:
        payload = _unb64(encoded).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TileTokenRejected("malformed tile token: get a new one from the TileJSON or WMTS capabilities") from None
    if not hmac.compare_digest(signature, _signature(payload)):
        raise TileTokenRejected("invalid tile token signature: get a new one from the TileJSON or WMTS capabilities")
    parts = payload.split("|")
    if len(parts) != 4 or not parts[3].isdigit():
        raise TileTokenRejected("malformed tile token: get a new one from the TileJSON or WMTS capabilities")
    department, key_id, slug, expires = parts[0], parts[1], parts[2], int(parts[3])
    if expires <= (now if now is not None else time.time()):
        moment = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
        raise TileTokenRejected(f"tile token expired at {moment}: reload the TileJSON or WMTS capabilities")
    return TileToken(_Code(department), _KeyId(key_id) if key_id else None, slug, expires)
