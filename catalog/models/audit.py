"""The audit log: every access decision, allowed or denied. Append-only and hash-chained.

Rows keep plain values (codes, slugs, ids), not foreign keys, so nothing elsewhere can
ever need to update or delete them; the database refuses UPDATE and DELETE (migration 0003).
"""

from django.db import models


class AuditEvent(models.Model):
    at = models.DateTimeField()
    request_id = models.CharField(max_length=64, blank=True)
    department = models.CharField(max_length=32, blank=True)
    api_key = models.CharField(max_length=16, blank=True)
    username = models.CharField(max_length=150, blank=True)
    entry = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=16)
    allowed = models.BooleanField()
    reason = models.TextField(blank=True)
    grant_id = models.BigIntegerField(null=True)
    purpose = models.TextField(blank=True)
    client = models.CharField(max_length=64, blank=True)
    path = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["department", "at"]), models.Index(fields=["entry", "at"])]


class AuditResult(models.Model):
    """What an allowed access returned (rows, bytes), appended once the response is produced."""

    event_id = models.BigIntegerField(db_index=True)
    at = models.DateTimeField()
    rows = models.BigIntegerField(null=True)
    bytes = models.BigIntegerField(null=True)


class TileUsage(models.Model):
    """Tile requests counted per key per entry per day instead of one audit row each."""

    day = models.DateField()
    department = models.CharField(max_length=32)
    api_key = models.CharField(max_length=16, blank=True)
    entry = models.CharField(max_length=100)
    requests = models.BigIntegerField(default=0)
    denied = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        unique_together = [("day", "department", "api_key", "entry")]


class Notification(models.Model):
    """In-app notice to a department; also sent to its webhook when it has one."""

    class Kind(models.TextChoices):
        APPLICATION_RECEIVED = "application_received"
        APPLICATION_DECIDED = "application_decided"
        GRANT_EXPIRING = "grant_expiring"
        ENTRY_UPDATED = "entry_updated"

    department = models.ForeignKey("catalog.Department", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField()
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    webhook_status = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
