import uuid

from django.db import models

from catalog.models import Department


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHING = "finishing"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="jobs")
    api_key = models.CharField(max_length=16, blank=True)
    username = models.CharField(max_length=150, blank=True)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finishing_since = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"


class Chunk(models.Model):
    """A slice of a job's input; ``output`` is set once, by the worker holding the lease."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    rows = models.PositiveIntegerField()
    input = models.JSONField()
    output = models.JSONField(null=True)
    leased_by = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True)

    class Meta:
        unique_together = [("job", "number")]
        indexes = [models.Index(fields=["job", "done_at"])]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.number}"
