"""The catalog's typed errors; geoplatform.errors maps them to HTTP status codes."""


class CatalogError(Exception):
    """Base of the catalog's errors; ``status`` is the HTTP status it maps to."""

    status = 400


class KeyRejected(CatalogError):
    """A credential was presented and is not acceptable (malformed, unknown, revoked, expired)."""

    status = 401
