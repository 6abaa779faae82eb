"""Who may have imagery tiles: the catalog's decision, asked from the FastAPI tile service.

Capabilities and TileJSON requests authenticate the API key and ask the catalog (audited); the
tile URLs they hand out carry a signed tile token (tiles.tokens), checked without the database.
Tile requests with a plain API key, or with a staff member's Django session (the platform's own
pages), go through the catalog's own tile path (decision reused a few seconds per credential,
counted per day). The catalog works on Django requests, so a Starlette request is presented to
it through :class:`CatalogRequest`.
"""

from __future__ import annotations

import re
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from starlette.requests import Request

from catalog.access import Action, Decision, authorize, decide, request_principal
from catalog.audit import count_tile, record_decision
from catalog.auth import Principal
from catalog.errors import AccessDenied, EntryNotFound, NotAuthenticated
from catalog.models import Entry
from tiles.registry import database_session
from tiles.tokens import TileToken, is_tile_token, issue_tile_token, verify_tile_token

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
YEAR_RE = re.compile(r"^[12][0-9]{3}$")
NO_CREDENTIALS = ("authentication required: use the tile URLs of the TileJSON or WMTS capabilities "
                  "(they carry a tile token), send 'Authorization: Bearer <key>' or ?token=<key>, "
                  "or log in to the platform")
SESSION_ENDED = ("your platform session has ended (logged out or expired): log in again, or use an API key "
                 "or the tile URLs of the TileJSON or WMTS capabilities")


class CatalogRequest:
    """The parts of a Django request the catalog's access and audit code reads, from a Starlette request.

    The path is the request's own (query string included); catalog.audit redacts credentials, such as a
    ``token`` that is an API key, before anything is stored.
    """

    def __init__(self, request: Request):
        headers = request.headers
        self.META = {"HTTP_AUTHORIZATION": headers.get("authorization"),
                     "HTTP_X_FORWARDED_FOR": headers.get("x-forwarded-for", ""),
                     "HTTP_X_REQUEST_ID": headers.get("x-request-id", ""),
                     "REMOTE_ADDR": request.client.host if request.client else ""}
        self.GET = dict(request.query_params)
        query = request.url.query
        self.full_path = request.url.path + (f"?{query}" if query else "")

    def get_full_path(self) -> str:
        return self.full_path


def _has_key(request: Request) -> bool:
    return bool(request.headers.get("authorization")) or "token" in request.query_params


def _staff_session(request: Request):
    """(session, user) of the Django session cookie when it names a logged-in user; None otherwise.

    The same checks as Django's AuthenticationMiddleware (session row, user active, session hash),
    so a logged-out or changed-password session is refused here as on the pages. Needs the database.
    """
    cookie = request.cookies.get(settings.SESSION_COOKIE_NAME)
    if not cookie:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie)
    user = get_user(SimpleNamespace(session=session))
    return (session, user) if user.is_authenticated else None


def _session_request(request: Request) -> CatalogRequest:
    """A CatalogRequest for the catalog's decision, carrying the staff session as Django's middleware would.

    A key (header or ?token=) wins over the session, as in catalog.access.request_principal; no
    key and a dead session cookie is a 401 here, with no audit row (a map asks for tiles by the
    hundred). Needs the database (inside database_session()).
    """
    catalog_request = CatalogRequest(request)
    if _has_key(request) or settings.SESSION_COOKIE_NAME not in request.cookies:
        return catalog_request
    staff = _staff_session(request)
    if staff is None:
        raise NotAuthenticated(SESSION_ENDED)
    catalog_request.session, catalog_request.user = staff
    return catalog_request


def authenticated_caller(request: Request) -> Principal:
    """Any authenticated caller, by an API key in a header or a staff session, else 401 (the tile service's docs)."""
    with database_session():
        principal = request_principal(_session_request(request))
    if principal is None:
        raise NotAuthenticated("authentication required: send 'Authorization: Bearer <key>' or log in to the platform")
    return principal


def dataset_key(collection: str, year: str) -> tuple[str, int]:
    """A collection slug and a year, or 404: nothing else (a path, a URL) ever names a dataset."""
    if not SLUG_RE.match(collection) or not YEAR_RE.match(year):
        raise EntryNotFound(f"no imagery {collection!r}/{year!r}")
    return collection, int(year)


def tile_credential(request: Request) -> str | None:
    """A tile token from ?token= or 'Bearer', if the request carries one (else None: an API key or nothing)."""
    query = request.query_params.get("token")
    if is_tile_token(query):
        return query
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and is_tile_token(value.strip()) else None


def authorize_tile(request: Request, slug: str) -> TileToken | Principal:
    """Let a tile request through, or raise (401 no/forged/expired credential, 403 refused, 404 not listed).

    A tile token is checked by its signature and expiry only; an API key by the catalog's tile path.
    Both are counted per department, key, collection and day (catalog.audit.count_tile).
    """
    token = tile_credential(request)
    if token is not None:
        claims = verify_tile_token(token)
        allowed = slug in claims.slugs
        with database_session():
            count_tile(claims, slug, allowed)
        if not allowed:
            raise AccessDenied(f"this tile token was issued for {', '.join(claims.slugs)}, not {slug}")
        return claims
    if not _has_key(request) and settings.SESSION_COOKIE_NAME not in request.cookies:
        # refused here, not by the catalog, which would write an audit row for every anonymous tile
        raise NotAuthenticated(NO_CREDENTIALS)
    with database_session():
        return authorize(_session_request(request), slug, Action.READ, allow_query_token=True, tile=True).principal


def _token_for(principal: Principal, *slugs: str) -> str:
    key_id = principal.api_key.prefix if principal.api_key is not None else ""
    return issue_tile_token(principal.department.code, key_id, ",".join(slugs))


def authorize_collection(request: Request, slug: str) -> str:
    """TileJSON: the catalog's audited READ decision on one collection, then a tile token for it."""
    with database_session():
        decision = authorize(_session_request(request), slug, Action.READ, allow_query_token=True,
                             purpose="imagery TileJSON")
        return _token_for(decision.principal, slug)


def readable_collections(request: Request) -> tuple[dict[str, str], str | None]:
    """WMTS capabilities: every imagery collection the caller may read -> a tile token (one audit row each),
    and one token for all of them, for the KVP GetTile URL (which names no collection; None when none)."""
    with database_session():
        catalog_request = _session_request(request)
        principal = request_principal(catalog_request, allow_query_token=True)
        if principal is None:
            raise NotAuthenticated(NO_CREDENTIALS)
        tokens = {}
        for entry in Entry.objects.filter(kind=Entry.Kind.IMAGERY).select_related("owner"):
            decision: Decision = decide(principal, entry, Action.READ)
            if decision.allowed:
                record_decision(decision, catalog_request, purpose="WMTS GetCapabilities")
                tokens[entry.slug] = _token_for(principal, entry.slug)
        return tokens, (_token_for(principal, *sorted(tokens)) if tokens else None)
