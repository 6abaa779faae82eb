"""Registering and updating catalog entries: the owner's side of 一数一源."""

from __future__ import annotations

from django.contrib.gis.geos import GEOSGeometry, Polygon
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from catalog.errors import AccessDenied, InvalidRequest
from catalog.models import Department, Entry, Notification
from catalog.notify import notify
from catalog.schedule import next_due

SENSITIVITIES = ("public", "masked", "coarsened")


def register_entry(slug: str, kind: str, owner: Department, title_zh: str, title_en: str = "",
                   sharing: str = Entry.Sharing.APPLICATION, **metadata) -> Entry:
    """The entry ``slug``, created for ``owner`` if new; AccessDenied if another department owns it."""
    entry = Entry.objects.select_related("owner").filter(slug=slug).first()
    if entry is not None:
        if entry.owner_id != owner.pk:
            raise AccessDenied(f"{slug} belongs to {entry.owner.name_zh} ({entry.owner.code}); "
                               "only its owner may publish it (一数一源)")
        return entry
    if sharing == Entry.Sharing.UNLISTED and not metadata.get("legal_basis"):
        raise InvalidRequest("an entry that is not shared (不予共享) must cite its legal basis")
    entry = Entry(slug=slug, kind=kind, owner=owner, title_zh=title_zh, title_en=title_en, sharing=sharing,
                  **metadata)
    entry.full_clean(exclude=["extent", "search_text"])
    entry.save()
    return entry


def validate_fields(fields: list[dict]) -> list[dict]:
    for f in fields:
        if not isinstance(f, dict) or not f.get("name"):
            raise InvalidRequest(f"field schema entries need a name: {f!r}")
        if f.get("sensitivity", "public") not in SENSITIVITIES:
            raise InvalidRequest(f"field {f['name']}: sensitivity must be one of {', '.join(SENSITIVITIES)}")
    return fields


def _keep_curated(new: dict, old: dict) -> dict:
    """A republished field keeps the sensitivity and title its owner set, unless the new version sets them."""
    title = new.get("title")
    return {**new, "sensitivity": new.get("sensitivity") or old.get("sensitivity", "public"),
            "title": title if title and title != new["name"] else old.get("title", new["name"])}


def mark_published(entry: Entry, *, feature_count: int | None, extent: GEOSGeometry | tuple | None,
                   fields: list[dict] | None = None, crs: str = "EPSG:4490") -> Entry:
    """A new version is live: record its metadata, restart the update clock, tell subscribers.

    Sensitivities and titles already set on fields the new version keeps are preserved.
    """
    now = timezone.now()
    if isinstance(extent, tuple):
        extent = Polygon.from_bbox(extent)
    if extent is not None:
        extent = extent.envelope if extent.geom_type != "Polygon" else extent
        extent.srid = 4490
    if fields is not None:
        entry.fields = validate_fields([_keep_curated(f, {k["name"]: k for k in entry.fields}.get(f["name"], {}))
                                        for f in fields])
    entry.feature_count = feature_count
    entry.extent = extent
    entry.crs = crs
    entry.last_published_at = now
    entry.next_due_at = next_due(entry.cadence, now)
    with transaction.atomic():
        entry.save()
        for sub in entry.subscriptions.select_related("department"):
            notify(sub.department, Notification.Kind.ENTRY_UPDATED,
                   f"{entry.title_zh} ({entry.slug}) 已更新 / was updated",
                   {"entry": entry.slug, "feature_count": feature_count, "published_at": now.isoformat()})
    return entry


def overdue_entries(department: Department | None = None, at=None) -> QuerySet[Entry]:
    """Entries whose scheduled update is late (never published entries with a cadence count as late)."""
    at = at or timezone.now()
    entries = Entry.objects.exclude(cadence="on_change").filter(
        Q(next_due_at__lt=at) | Q(last_published_at__isnull=True)).select_related("owner")
    if department is not None:
        entries = entries.filter(owner=department)
    return entries.order_by("next_due_at")
