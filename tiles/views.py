"""Django side of imagery: which collections and years a caller may discover, with the links to use them.

The tiles themselves, TileJSON and WMTS come from the tile service (tiles.app) under /tiles/.
"""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.access import Action, authorize, decide, request_principal
from catalog.audit import audit_request
from catalog.errors import EntryNotFound, NotAuthenticated
from catalog.models import Entry
from tiles.capabilities import tilejson_url, wmts_url
from tiles.models import ImageryDataset


def _collection(entry: Entry, datasets: list[ImageryDataset], readable: bool, base: str) -> dict:
    return {
        "slug": entry.slug, "title": entry.title_zh, "title_en": entry.title_en, "owner": entry.owner.code,
        "sharing": entry.sharing, "readable": readable,
        "years": [{
            "year": d.year, "bounds": list(d.bounds), "crs": d.crs, "source_crs": d.source_crs, "resolution": [d.resolution_x, d.resolution_y],
            "bands": d.band_count, "dtype": d.dtype, "width": d.width, "height": d.height,
            "compression": d.compression, "size_bytes": d.size_bytes, "minzoom": d.minzoom, "maxzoom": d.maxzoom,
            "created_at": d.created_at.isoformat(), "tilejson": tilejson_url(base, entry.slug, d.year),
        } for d in datasets],
        "wmts": wmts_url(base),
    }


def _datasets_by_entry(entries: list[Entry]) -> dict[int, list[ImageryDataset]]:
    grouped: dict[int, list[ImageryDataset]] = {e.pk: [] for e in entries}
    for d in ImageryDataset.objects.filter(entry__in=entries).order_by("year"):
        grouped[d.entry_id].append(d)
    return grouped


class ImageryView(APIView):
    """Anonymous callers reach the view so that the catalog answers (401 with the reason)."""

    permission_classes = [AllowAny]
    schema = None


class CollectionListView(ImageryView):
    """Imagery collections the caller may discover (one audit row for the listing), and whether it may read them."""

    def get(self, request):
        principal = request_principal(request)
        if principal is None:
            raise NotAuthenticated("authentication required: send 'Authorization: Bearer <key>'")
        entries = [e for e in Entry.objects.filter(kind=Entry.Kind.IMAGERY).select_related("owner")
                   if decide(principal, e, Action.DISCOVER).allowed]
        grouped = _datasets_by_entry(entries)
        base = request.build_absolute_uri("/")
        body = [_collection(e, grouped[e.pk], decide(principal, e, Action.READ).allowed, base) for e in entries]
        audit_request(request, str(Action.DISCOVER), reason=f"{len(body)} imagery collections listed",
                      purpose="imagery collections")
        return Response({"collections": body})


class CollectionDetailView(ImageryView):
    """One imagery collection's years (the catalog's audited DISCOVER decision)."""

    def get(self, request, slug: str):
        decision = authorize(request, slug, Action.DISCOVER, purpose="imagery collection")
        entry = decision.entry
        if entry.kind != Entry.Kind.IMAGERY:
            raise EntryNotFound(f"{slug} is not an imagery collection")
        readable = decide(decision.principal, entry, Action.READ).allowed
        return Response(_collection(entry, _datasets_by_entry([entry])[entry.pk], readable,
                                    request.build_absolute_uri("/")))
