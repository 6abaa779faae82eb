"""Typed import errors with a message a GIS user can act on; the API maps ``status`` to HTTP."""


class ImportRejected(Exception):
    """The file cannot be published as it is; nothing was changed."""

    status = 400


class UploadTooLarge(ImportRejected):
    status = 413


class PublishForbidden(ImportRejected):
    status = 403
