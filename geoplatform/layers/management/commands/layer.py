"""``geoplatform layer publish|history|restore``: the owner's side of a shared layer from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.models import Department
from geoplatform.layers.importing.changes import read_delete_keys
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.models import Layer
from geoplatform.layers.publish import PublishRequest, publish_version, restore_version


class Command(BaseCommand):
    help = "Publish a file as a new version of a shared layer, list its versions, or restore one."
    # The system checks import every URLconf and view of the project (about half a second) and
    # check nothing this command uses; `geoplatform manage check` runs them.
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        pub = sub.add_parser("publish", help="publish FILE as the new version of layer SLUG")
        pub.add_argument("file", type=Path)
        pub.add_argument("--owner", required=True, help="code of the owner department")
        pub.add_argument("--name", required=True, help="layer slug, e.g. enterprises")
        pub.add_argument("--title", default="")
        pub.add_argument("--key", help="field identifying a feature across versions (diffed updates)")
        pub.add_argument("--crs", help="override the file's CRS, e.g. EPSG:4549")
        pub.add_argument("--encoding", help="text encoding of a Shapefile DBF or CSV, e.g. GBK")
        pub.add_argument("--layer", dest="layer_name", help="layer to read from a GeoPackage")
        pub.add_argument("--changes", action="store_true",
                         help="FILE holds only added and changed features (by --key); a _deleted column set to "
                              "1/true marks features to remove")
        pub.add_argument("--delete-keys", type=Path, metavar="KEYS_FILE",
                         help="with --changes: a text file of keys to remove, one per line")
        pub.add_argument("--skip-bad-rows", action="store_true",
                         help="leave out rows that cannot be stored as they are (a coordinate that is not a number, "
                              "a NUL character) instead of refusing the file; the report lists their lines")
        pub.add_argument("--no-progress", action="store_true")
        hist = sub.add_parser("history", help="list the versions of layer SLUG")
        hist.add_argument("--name", required=True)
        res = sub.add_parser("restore", help="publish an old version again as the newest")
        res.add_argument("--name", required=True)
        res.add_argument("--version", type=int, required=True, dest="target")

    def handle(self, *args, **opts):
        try:
            getattr(self, f"do_{opts['action']}")(opts)
        except ImportRejected as exc:
            raise CommandError(str(exc)) from None

    def _layer(self, slug: str) -> Layer:
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            raise CommandError(f"no layer {slug!r}")
        return layer

    def do_publish(self, opts) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        owner = Department.objects.filter(code=opts["owner"]).first()
        if owner is None:
            raise CommandError(f"no department with code {opts['owner']!r} (geoplatform department list)")
        if opts["delete_keys"] and not opts["changes"]:
            raise CommandError("--delete-keys goes with --changes (a full file removes what it does not contain)")
        delete_keys = tuple(read_delete_keys(opts["delete_keys"])) if opts["delete_keys"] else ()
        request = PublishRequest(owner=owner, slug=opts["name"], title=opts["title"], key=opts["key"],
                                 crs=opts["crs"], encoding=opts["encoding"], layer_name=opts["layer_name"],
                                 published_by=f"cli:{owner.code}", source_name=path.name,
                                 changes=opts["changes"], delete_keys=delete_keys,
                                 skip_bad_rows=opts["skip_bad_rows"])
        bar = tqdm(unit=" features", unit_scale=True, file=self.stderr._out,
                   disable=opts["no_progress"] or not self.stderr._out.isatty())
        try:
            version = publish_version(path, request, total=lambda n: bar.reset(total=n), progress=bar.update)
        finally:
            bar.close()
        report = version.report
        self.stdout.write(f"{request.slug} version {version.number}: {version.feature_count} features "
                          f"({version.geometry_type}), from {report['source_crs']}")
        if "crs" in report:
            self.stdout.write(f"CRS {report['crs']} (--crs names another)")
        if "skipped_bad_rows" in report:
            skipped = report["skipped_bad_rows"]
            self.stdout.write(f"left out {skipped['count']} bad rows: " + "; ".join(skipped["details"]))
        self.stdout.write(json.dumps(report, ensure_ascii=False))

    def do_history(self, opts) -> None:
        layer = self._layer(opts["name"])
        self.stdout.write("  version  published            features  changes (+added ~changed -removed)  file")
        for v in layer.versions.order_by("number"):
            mark = "*" if v.number == layer.current_version else " "
            diff = v.report.get("diff", {})
            self.stdout.write(f"{mark} v{v.number}  {v.published_at:%Y-%m-%d %H:%M:%S}  {v.feature_count:>9} features  "
                              f"+{diff.get('added', 0)} ~{diff.get('changed', 0)} -{diff.get('removed', 0)}  "
                              f"{v.source_name}")

    def do_restore(self, opts) -> None:
        version = restore_version(self._layer(opts["name"]), opts["target"], published_by="cli")
        self.stdout.write(f"{opts['name']} version {version.number} restores version {opts['target']}: "
                          f"{version.feature_count} features")
