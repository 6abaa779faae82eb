"""The catalog's typed errors; geoplatform.errors maps them to HTTP status codes by ``status``."""


class CatalogError(Exception):
    """Base of the catalog's errors; ``status`` is the HTTP status it maps to."""

    status = 400


class InvalidRequest(CatalogError):
    """The request names something impossible (a field not in the schema, a negative duration...)."""

    status = 400


class KeyRejected(CatalogError):
    """A credential was presented and is not acceptable (malformed, unknown, revoked, expired)."""

    status = 401


class NotAuthenticated(CatalogError):
    """No credentials were presented where the decision needs to know who is asking."""

    status = 401


class AccessDenied(CatalogError):
    """The caller is known and the decision says no; the message says why (e.g. the grant's expiry)."""

    status = 403


class EntryNotFound(CatalogError):
    status = 404


class Conflict(CatalogError):
    """The request is valid but the object's state does not allow it (e.g. deciding a decided item)."""

    status = 409
