import sys

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from catalog.audit import verify_chain
from catalog.models import AuditEvent


class Command(BaseCommand):
    help = "The audit log: verify its hash chain, or show usage per entry, department and day."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="recompute the hash chain; exit 0 when it holds, 1 naming the first bad row")
        stats = sub.add_parser("stats", help="requests per day, entry and department")
        stats.add_argument("--days", type=int, default=7, help="how many days back (default 7)")
        leaks = sub.add_parser(
            "leaked-keys", help="find API keys stored in clear in audit rows or log files (written before "
            "credentials were redacted); a dry run unless --revoke")
        leaks.add_argument("--revoke", action="store_true", help="revoke every active key found")
        leaks.add_argument("--log", action="append", default=[], metavar="PATH",
                           help="a log file, or a folder whose *.log files are searched; may be repeated "
                                "(default: the data folder, e.g. .data/worker.log)")

    def handle(self, *args, action, **opts):
        if action == "leaked-keys":
            self.leaked_keys(opts["revoke"], opts["log"])
            return
        if action == "verify":
            report = verify_chain()
            if report.ok:
                self.stdout.write(f"audit chain holds: {report.rows} rows verified")
                return
            self.stderr.write(f"audit chain broken at row {report.first_bad_id}: {report.problem} "
                              f"({report.rows} rows before it verified)")
            sys.exit(1)
        from datetime import timedelta

        from django.db.models.functions import TruncDate
        from django.utils import timezone

        since = timezone.now() - timedelta(days=opts["days"])
        rows = (AuditEvent.objects.filter(at__gte=since).annotate(day=TruncDate("at"))
                .values("day", "entry", "department")
                .annotate(requests=Count("id"), denied=Count("id", filter=Q(allowed=False)))
                .order_by("day", "entry", "department"))
        self.stdout.write("day\tentry\tdepartment\trequests\tdenied")
        for r in rows:
            self.stdout.write(f"{r['day']}\t{r['entry'] or '-'}\t{r['department'] or '-'}\t{r['requests']}\t{r['denied']}")

    def leaked_keys(self, revoke: bool, logs: list[str]) -> None:
        from pathlib import Path

        from catalog.keys import revoke_api_key
        from catalog.leaks import find_leaked_keys
        from geoplatform.localdb import data_dir

        paths = [Path(p) for p in logs] or [data_dir()]
        for path in paths:
            if not path.exists():
                raise CommandError(f"{path}: no such log file or folder")
        leaks = find_leaked_keys(paths)
        if not leaks:
            self.stdout.write("no API key found in clear in the audit log or in "
                              + ", ".join(str(p) for p in paths))
            return
        self.stdout.write("key\tdepartment\tapplication\tstate\taudit rows\tlog lines")
        for leak in leaks:
            state = "active" if leak.active else "revoked"
            rows = ",".join(map(str, leak.audit_rows[:5])) + (" …" if len(leak.audit_rows) > 5 else "")
            self.stdout.write(f"gp_{leak.key.prefix}\t{leak.key.department.code}\t{leak.key.name}\t{state}\t"
                              f"{len(leak.audit_rows)} ({rows or '-'})\t{len(leak.log_lines)}")
        active = [leak for leak in leaks if leak.active]
        if not revoke:
            self.stdout.write(f"{len(active)} active key(s) were exposed; run with --revoke to revoke them, "
                              "then give the departments new keys (geoplatform apikey create CODE)")
            return
        for leak in active:
            revoke_api_key(leak.key.prefix)
        self.stdout.write(f"revoked {len(active)} key(s); give the departments new keys "
                          "(geoplatform apikey create CODE)")
