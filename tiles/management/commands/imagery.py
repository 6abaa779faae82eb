"""``geoplatform imagery ingest|list``: the owner's side of an imagery collection from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.errors import CatalogError
from catalog.models import Department
from tiles import storage
from tiles.ingest import IngestRequest, ingest_imagery
from tiles.models import ImageryDataset

STATUS_WORDS = {400: "refused", 403: "forbidden (403)", 404: "not found", 409: "conflict (409)",
                503: "storage unavailable (503)"}


class Command(BaseCommand):
    help = ("Ingest a GeoTIFF as one year of an imagery collection (as a validated COG, kept in the imagery folder or "
            "uploaded to GEOPLATFORM_IMAGERY_S3_BUCKET), or list the collections and where each year lives.")
    requires_system_checks = []  # see geoplatform/layers/management/commands/layer.py

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ing = sub.add_parser("ingest", help="convert FILE to a COG and register it as YEAR of collection SLUG")
        ing.add_argument("file", type=Path)
        ing.add_argument("--owner", required=True, help="code of the owner department (一数一源)")
        ing.add_argument("--collection", required=True, help="collection slug, e.g. aerial-2m")
        ing.add_argument("--year", required=True, type=int)
        ing.add_argument("--title", default="", help="the collection's Chinese title (new collections)")
        ing.add_argument("--replace", action="store_true", help="replace the year if it is already there")
        ing.add_argument("--no-progress", action="store_true")
        lst = sub.add_parser("list", help="list collections, their years and where each year's COG lives")
        lst.add_argument("--owner", help="only this department's collections")

    def handle(self, *args, **opts):
        try:
            getattr(self, f"do_{opts['action']}")(opts)
        except CatalogError as exc:
            raise CommandError(f"{STATUS_WORDS.get(exc.status, 'error')}: {exc}") from None

    def do_ingest(self, opts) -> None:
        owner = Department.objects.filter(code=opts["owner"]).first()
        if owner is None:
            raise CommandError(f"no department {opts['owner']!r} (geoplatform department list)")
        dataset = ingest_imagery(IngestRequest(owner=owner, collection=opts["collection"], year=opts["year"],
                                               source=opts["file"], title=opts["title"], replace=opts["replace"],
                                               progress=not opts["no_progress"] and sys.stderr.isatty()))
        self.stdout.write(f"{dataset.entry.slug}/{dataset.year}: {dataset.width}x{dataset.height} px, "
                          f"{dataset.band_count} band(s) {dataset.dtype}, {dataset.compression} COG, "
                          f"{dataset.size_bytes / 1e6:.1f} MB, zoom {dataset.minzoom}-{dataset.maxzoom}, "
                          f"at {storage.describe(dataset.path)}")

    def do_list(self, opts) -> None:
        datasets = ImageryDataset.objects.select_related("entry__owner")
        if opts.get("owner"):
            datasets = datasets.filter(entry__owner__code=opts["owner"])
        self.stdout.write("collection\tyear\towner\tsharing\tpixels\tcompression\tsize\tbounds (lon/lat)\tstored at")
        for d in datasets:
            self.stdout.write(f"{d.entry.slug}\t{d.year}\t{d.entry.owner.code}\t{d.entry.sharing}\t"
                              f"{d.width}x{d.height}\t{d.compression}\t{d.size_bytes / 1e6:.1f} MB\t"
                              f"{', '.join(f'{v:.4f}' for v in d.bounds)}\t{storage.describe(d.path)}")
