"""Credentials are never stored or shown: the one redaction every writer uses.

A department may send its API key as ``?token=`` (XYZ/WMTS URLs cannot carry headers), so any
text that holds a request's path or its headers can hold a key. The audit log, application and
access logs, notifications and error messages pass their text through :func:`redact` before it is
written, which replaces

- credential query parameters (``token``, ``access_token``, ``api_key``, ``password``, S3 presigned
  signatures, …) by ``[redacted]``, whatever their value;
- anything shaped like an API key (``gp_<id>_<secret>``, also percent-encoded) by ``gp_<id>_[redacted]``:
  the 8-character id is public (it is how keys are listed and audited), the secret is not;
- signed tile tokens (``gpt1.<claims>.<signature>``) by ``gpt1.[redacted]``;
- ``Authorization`` values (``Bearer …``, ``Basic …``) and passwords in URLs (``scheme://user:pass@``).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
CREDENTIAL_PARAMETERS = ("token", "access_token", "api_key", "apikey", "password", "passwd", "secret",
                         "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature")

_UNDERSCORE = r"(?:_|%5[fF])"
API_KEY_RE = re.compile(rf"gp{_UNDERSCORE}([a-z2-7]{{8}}){_UNDERSCORE}[A-Za-z0-9_%-]+")
TILE_TOKEN_RE = re.compile(r"gpt1\.[A-Za-z0-9_=%-]+(?:\.[A-Za-z0-9_=%-]*)?")
_PARAMETER_RE = re.compile(r"(?i)((?:^|[?&;\s\"'])(?:" + "|".join(map(re.escape, CREDENTIAL_PARAMETERS))
                           + r")=)[^&#\s\"']*")
_AUTHORIZATION_RE = re.compile(r"(?i)\b(Bearer|Basic)(\s+|%20|\+)[A-Za-z0-9._~+/=%-]+")
_URL_PASSWORD_RE = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with every credential in it replaced (see the module docstring); other text unchanged."""
    if not text:
        return text
    text = _PARAMETER_RE.sub(rf"\1{REDACTED}", text)
    text = TILE_TOKEN_RE.sub(f"gpt1.{REDACTED}", text)
    text = API_KEY_RE.sub(rf"gp_\1_{REDACTED}", text)
    text = _AUTHORIZATION_RE.sub(rf"\1 {REDACTED}", text)
    return _URL_PASSWORD_RE.sub(rf"\1{REDACTED}@", text)


def redact_value(value):
    """Strings redacted, containers walked (a notification's payload); other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message and traceback before any handler formats it.

    Installed on the root handlers by Django's LOGGING and on uvicorn's own loggers (whose access log
    line holds the request target, query string included) by :func:`install_log_redaction`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments are redacted one by one, not merged into the message: some formatters read them
        # (uvicorn's access formatter takes the client, method, path and status from record.args).
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = redact_value(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "django", "django.request", "django.server", "")


def install_log_redaction() -> None:
    """Add the filter to the loggers that carry request targets and to every handler already set up.

    Called when a server process starts (``geoplatform serve``, the standalone tile app); calling it again
    adds nothing.
    """
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        targets = [logger, *logger.handlers]
        for target in targets:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())
