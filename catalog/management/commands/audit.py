import sys

from django.core.management.base import BaseCommand
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

    def handle(self, *args, action, **opts):
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
