"""``geoplatform gazetteer``: load a gazetteer CSV as a new version, or list the versions."""

from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand, CommandError

from catalog.errors import CatalogError
from geoplatform.geocoding.gazetteer_csv import COLUMNS, REQUIRED, GazetteerFileError, parse_column_map

COLUMNS_HELP = (
    "Columns of the file, one row per address (--map STANDARD=FILE_COLUMN reads another name):\n"
    f"  all, in the demo's order: {', '.join(COLUMNS)}\n"
    f"  required (any order, others may be empty or absent): {', '.join(REQUIRED)}\n"
    "level is door or building; lon/lat in CGCS2000 degrees; compound is 1 for a 号院 compound.\n"
    "Example rows (the demo's, all columns in that order):\n"
    "  D000001,示范市东城区交道口街道长安街1号院,door,东城区,110191,交道口街道,110191003,长安街,R001-110191,1,,1,,和平小区,"
    "116.196011,39.7975052\n"
    "  D000002,示范市东城区交道口街道长安街1号院1号楼,building,东城区,110191,交道口街道,110191003,长安街,R001-110191,1,,1,1,"
    "和平小区,116.1960097,39.7976552"
)


class Command(BaseCommand):
    help = "Load a gazetteer (地名地址库) CSV as the new active version (atomic), or list versions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="load FILE.csv (UTF-8, header line; columns below)",
                              description=COLUMNS_HELP, formatter_class=RawDescriptionHelpFormatter)
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
            self.stdout.write("  version  addresses  loaded            file   (* = active)")
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
                                     aliases_csv=opts["aliases"],
                                     progress=not opts["no_progress"] and sys.stderr.isatty())
        except (GazetteerFileError, OSError) as exc:
            raise CommandError(f"{exc}; the gazetteer in use is unchanged") from None
        except CatalogError as exc:
            raise CommandError(str(exc)) from None
        print(f"gazetteer v{version.number}: {version.row_count} addresses loaded and active", file=sys.stderr)
