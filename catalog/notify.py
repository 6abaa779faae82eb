"""Notifications: an in-app list per department, and its webhook (HMAC-SHA256 signed) when it has one."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request

from django.db import transaction

from catalog.models import Department, Notification
from catalog.redact import redact, redact_value

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Geoplatform-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notify(department: Department, kind: str, message: str, payload: dict) -> Notification:
    """Record the notice (credentials redacted); post it to the department's webhook after the transaction commits."""
    notice = Notification.objects.create(department=department, kind=kind, message=redact(message),
                                         payload=redact_value(payload))
    if department.webhook_url:
        transaction.on_commit(lambda: deliver_webhook(notice.pk))
    return notice


def deliver_webhook(notification_id: int, timeout: float = 5.0) -> str:
    """POST the notice as JSON with its HMAC signature; records and returns the outcome."""
    notice = Notification.objects.select_related("department").get(pk=notification_id)
    dept = notice.department
    body = json.dumps({"id": notice.pk, "kind": notice.kind, "department": dept.code, "message": notice.message,
                       "payload": notice.payload, "created_at": notice.created_at.isoformat()},
                      ensure_ascii=False).encode()
    request = urllib.request.Request(dept.webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              SIGNATURE_HEADER: sign(dept.webhook_secret, body)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = f"delivered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        status = redact(f"failed: {getattr(exc, 'reason', exc)}")[:64]
        log.warning("webhook for %s failed: %s", dept.code, status)
    Notification.objects.filter(pk=notice.pk).update(webhook_status=status)
    return status
