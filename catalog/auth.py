"""Who is calling: one code path for API keys, whatever way the client sends them.

API clients send ``Authorization: Bearer <key>``. Desktop GIS clients (QGIS 3.22) cannot,
so the key is also accepted as the password of HTTP Basic authentication (any user name)
and, on tile and capabilities URLs only, as a ``token`` query parameter. Browsers use the
Django session. Every variant ends in :func:`principal_from_credentials`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from rest_framework import authentication, exceptions

from catalog.errors import KeyRejected
from catalog.keys import verify_api_key
from catalog.models import ApiKey, Department, User

CHALLENGE = 'Bearer realm="geoplatform", Basic realm="geoplatform"'


@dataclass(frozen=True)
class Principal:
    """The caller as the catalog sees it: a department, through a key or a staff member's session."""

    department: Department | None
    api_key: ApiKey | None = None
    user: User | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> str:
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        return f"user:{self.user.pk if self.user else 0}"

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"gp_{self.api_key.prefix}"
        return self.user.get_username() if self.user else "anonymous"


def key_from_authorization(header: str) -> str | None:
    """The API key inside an Authorization header value, or KeyRejected when the header is malformed."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "bearer":
        if not value or " " in value:
            raise KeyRejected("malformed Authorization header: expected 'Bearer <key>'")
        return value
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise KeyRejected("malformed Authorization header: Basic credentials are not base64 'user:key'") from None
        _user, sep, password = decoded.partition(":")
        if not sep or not password:
            raise KeyRejected("malformed Authorization header: put the API key in the Basic password")
        return password
    raise KeyRejected("unsupported Authorization scheme: use 'Bearer <key>' or Basic with the key as password")


def principal_from_credentials(authorization: str | None, query_token: str | None,
                               allow_query_token: bool) -> Principal | None:
    """The caller named by a request's credentials; None when it presents none; KeyRejected when they fail."""
    raw = None
    if authorization:
        raw = key_from_authorization(authorization)
    elif query_token is not None:
        if not allow_query_token:
            raise KeyRejected("the token parameter is accepted on tile and capabilities URLs only; "
                              "send 'Authorization: Bearer <key>'")
        raw = query_token
    if raw is None:
        return None
    key = verify_api_key(raw)
    return Principal(department=key.department, api_key=key)


def principal_from_user(user) -> Principal | None:
    if user is None or not user.is_authenticated:
        return None
    return Principal(department=user.department, user=user)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF adapter: views that serve tiles or capabilities set ``accepts_token_parameter = True``."""

    def authenticate(self, request):
        view = request.parser_context.get("view") if request.parser_context else None
        try:
            principal = principal_from_credentials(
                request.META.get("HTTP_AUTHORIZATION"),
                request.query_params.get("token"),
                allow_query_token=getattr(view, "accepts_token_parameter", False),
            )
        except KeyRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return None if principal is None else (principal, principal.api_key)

    def authenticate_header(self, request) -> str:
        return CHALLENGE


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (with its CSRF check), yielding a Principal."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        return principal_from_user(result[0]), None
