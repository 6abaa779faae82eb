"""Catalog search: Chinese text without word segmentation (trigram LIKE on a lower-cased document),
filters, facets and paging. What a caller may discover is decided by catalog.access's rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import Q, QuerySet

from catalog.api import params
from catalog.auth import Principal
from catalog.models import Department, Entry


def discoverable(principal: Principal) -> QuerySet[Entry]:
    """Entries the caller may discover: the same rule as decide(..., DISCOVER), as a query."""
    entries = Entry.objects.select_related("owner", "category")
    if principal.user is not None and principal.user.is_superuser:
        return entries
    mine = Q(owner=principal.department) if principal.department else Q(pk__in=[])
    return entries.filter(mine | ~Q(sharing=Entry.Sharing.UNLISTED))


@dataclass
class SearchResult:
    total: int
    entries: list[Entry]
    facets: dict[str, list[dict]]


def parse_bbox(text: str) -> Polygon:
    """A catalog search box, in degrees (see :func:`catalog.api.params.parse_bbox` for what is refused)."""
    box = Polygon.from_bbox(params.parse_bbox(text, limits=params.LONLAT_LIMITS))
    box.srid = 4490
    return box


def _facets(entries: QuerySet[Entry]) -> tuple[dict[str, list[dict]], int]:
    """Counts per owner, kind and sharing type in one scan (GROUPING SETS), and the total."""
    inner_sql, params = entries.values("owner_id", "kind", "sharing").query.sql_with_params()
    sql = (f"SELECT owner_id, kind, sharing, count(*) FROM ({inner_sql}) AS matched "
           "GROUP BY GROUPING SETS ((owner_id), (kind), (sharing))")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    owners = {pk: (code, name) for pk, code, name in Department.objects.filter(
        pk__in=[r[0] for r in rows if r[0] is not None]).values_list("pk", "code", "name_zh")}
    by_owner = sorted(((r[3], r[0]) for r in rows if r[0] is not None), reverse=True)[:50]
    facets = {
        "department": [{"value": owners[pk][0], "label": owners[pk][1], "count": n} for n, pk in by_owner],
        "kind": sorted(({"value": r[1], "count": r[3]} for r in rows if r[1] is not None),
                       key=lambda f: -f["count"]),
        "sharing": sorted(({"value": r[2], "count": r[3]} for r in rows if r[2] is not None),
                          key=lambda f: -f["count"]),
    }
    return facets, sum(f["count"] for f in facets["kind"])


def search_entries(principal: Principal, *, q: str = "", department: str = "", kind: str = "", category: str = "",
                   sharing: str = "", bbox: str = "", updated_since: datetime | None = None,
                   offset: int = 0, limit: int = 20) -> SearchResult:
    entries = discoverable(principal)
    for word in q.lower().split():
        entries = entries.filter(search_text__contains=word)
    if department:
        entries = entries.filter(owner__code=department)
    if kind:
        entries = entries.filter(kind=kind)
    if category:
        entries = entries.filter(Q(category__code=category) | Q(category__parent__code=category))
    if sharing:
        entries = entries.filter(sharing=sharing)
    if bbox:
        entries = entries.filter(extent__intersects=parse_bbox(bbox))
    if updated_since:
        entries = entries.filter(Q(last_published_at__gte=updated_since) | Q(updated_at__gte=updated_since))
    facets, total = _facets(entries)
    page = list(entries.order_by("-updated_at", "slug")[offset:offset + limit])
    return SearchResult(total, page, facets)
