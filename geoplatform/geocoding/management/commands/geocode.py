"""``geoplatform geocode``: batch-geocode a CSV file, or one address for a quick look."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from geoplatform.geocoding.batch import BatchInputError, geocode_csv
from geoplatform.geocoding.gazetteer_csv import GazetteerFileError
from geoplatform.geocoding.match import geocode
from geoplatform.geocoding.services import load_index


class Command(BaseCommand):
    help = ("Geocode addresses against the gazetteer (the loaded PostGIS version, or a CSV with --gazetteer). "
            "batch IN.csv --column COL --out OUT.csv [--workers N]; one ADDRESS")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        batch = sub.add_parser("batch", help="geocode one column of a CSV file (UTF-8 or GBK) into a new CSV")
        batch.add_argument("input", help="CSV file with a header line")
        batch.add_argument("--column", required=True, help="name of the address column")
        batch.add_argument("--out", required=True, help="output CSV: every input column + lon, lat, level, "
                                                        "score, matched_address, address_id")
        batch.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
        batch.add_argument("--encoding", help="input encoding (default: detect UTF-8 or GBK)")
        batch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        batch.add_argument("--publish", metavar="SLUG", help="also publish the matched rows as this vector layer")
        batch.add_argument("--owner", metavar="CODE", help="with --publish: the department that owns the layer")
        batch.add_argument("--key", help="with --publish: the column identifying a row across versions")
        batch.add_argument("--title", default="", help="with --publish: the layer's title")
        one = sub.add_parser("one", help="geocode one address and print the match as JSON")
        one.add_argument("address")
        for p in (batch, one):
            p.add_argument("--gazetteer", help="gazetteer CSV to index instead of the loaded PostGIS version")
            p.add_argument("--map", action="append", metavar="STANDARD=FILE_COLUMN",
                           help="column name mapping for --gazetteer (repeatable)")
            p.add_argument("--aliases", help="alias table CSV (alias,canonical,kind) for --gazetteer")

    def handle(self, *args, **opts):
        owner = self._publish_owner(opts) if opts.get("publish") else None
        started = time.perf_counter()
        try:
            index = load_index(opts["gazetteer"], opts["map"], opts["aliases"])
        except (GazetteerFileError, OSError, LookupError) as exc:
            raise CommandError(str(exc)) from None
        ready = time.perf_counter()
        if opts["action"] == "one":
            m = geocode(opts["address"], index)
            self.stdout.write(json.dumps({"lon": m.lon, "lat": m.lat, "level": m.level, "score": m.score,
                                          "matched_address": m.matched_address, "address_id": m.address_id,
                                          "candidates": [dataclasses.asdict(c) for c in m.candidates]},
                                         ensure_ascii=False))
            return
        try:
            report = geocode_csv(opts["input"], opts["out"], opts["column"], index, workers=max(1, opts["workers"]),
                                 encoding=opts["encoding"], progress=not opts["no_progress"] and sys.stderr.isatty())
        except (BatchInputError, OSError, UnicodeError) as exc:
            raise CommandError(str(exc)) from None
        levels = ", ".join(f"{k} {v}" for k, v in sorted(report.levels.items()))
        rate = report.rows / report.seconds if report.seconds else 0.0
        print(f"{report.rows} rows -> {opts['out']} in {report.seconds:.1f} s ({rate:,.0f}/s; index ready in "
              f"{ready - started:.1f} s); {levels}; {len(report.malformed)} malformed lines", file=sys.stderr)
        if owner is not None:
            self._publish(opts, owner)

    def _publish_owner(self, opts):
        from catalog.models import Department, Entry

        if not opts.get("owner"):
            raise CommandError("--publish needs --owner CODE (the department that will own the layer)")
        owner = Department.objects.filter(code=opts["owner"]).first()
        if owner is None:
            raise CommandError(f"no department {opts['owner']!r}")
        entry = Entry.objects.filter(slug=opts["publish"]).exclude(owner=owner).first()
        if entry is not None:
            raise CommandError(f"{opts['publish']} belongs to {entry.owner.code}; only its owner may publish it")
        return owner

    def _publish(self, opts, owner) -> None:
        import csv

        from geoplatform.geocoding.publishing import publish_geocoded
        from geoplatform.layers.importing.errors import ImportRejected

        with open(opts["out"], encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            try:
                result = publish_geocoded(reader, header, owner, opts["publish"], title=opts["title"],
                                          key=opts["key"], published_by="geoplatform geocode batch")
            except ImportRejected as exc:
                raise CommandError(f"publishing {opts['publish']} failed: {exc}") from None
        print(f"published {result['published_features']} matched rows as layer {result['layer']} "
              f"(version {result['version']}); {result['not_published_unmatched']} unmatched rows not published",
              file=sys.stderr)
