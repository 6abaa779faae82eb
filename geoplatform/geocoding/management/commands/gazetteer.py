"""``geoplatform gazetteer``: load a gazetteer CSV as a new version, or list the versions."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from catalog.errors import CatalogError
from geoplatform.geocoding.gazetteer_csv import GazetteerFileError, parse_column_map


class Command(BaseCommand):
    help = "Load a gazetteer (地名地址库) CSV as the new active version (atomic), or list versions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="load FILE.csv (columns as ../shared/data/gazetteer.csv, or --map)")
        load.add_argument("file")
        load.add_argument("--department", help="code of the owner department (registers the catalog entry)")
        load.add_argument("--map", action="append", metavar="STANDARD=FILE_COLUMN",
                          help="read a differently named column, e.g. house_number=门牌号 (repeatable)")
        load.add_argument("--aliases", help="alias table CSV: alias,canonical,kind (district/township/road)")
        load.add_argument("--no-progress", action="store_true")
        sub.add_parser("list", help="list the loaded versions")

    def handle(self, *args, **opts):
        from geoplatform.geocoding.loading import load_gazetteer
        from geoplatform.geocoding.models import GazetteerVersion

        if opts["action"] == "list":
            for v in GazetteerVersion.objects.all():
                mark = "*" if v.is_active else " "
                self.stdout.write(f"{mark} v{v.number}  {v.row_count:>9}  {v.created_at:%Y-%m-%d %H:%M}  {v.source_name}")
            return
        owner = None
        if opts["department"]:
            from catalog.models import Department

            owner = Department.objects.filter(code=opts["department"]).first()
            if owner is None:
                raise CommandError(f"no department {opts['department']!r} (geoplatform department list)")
        try:
            version = load_gazetteer(opts["file"], owner=owner, column_map=parse_column_map(opts["map"]),
                                     aliases_csv=opts["aliases"], progress=not opts["no_progress"])
        except (GazetteerFileError, OSError) as exc:
            raise CommandError(f"{exc}; the gazetteer in use is unchanged") from None
        except CatalogError as exc:
            raise CommandError(str(exc)) from None
        print(f"gazetteer v{version.number}: {version.row_count} addresses loaded and active", file=sys.stderr)
