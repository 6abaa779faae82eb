from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.entries import overdue_entries
from catalog.models import Entry
from catalog.sharing import notify_expiring_grants, overdue_answers

SHARING = {"open": Entry.Sharing.OPEN, "application": Entry.Sharing.APPLICATION, "unlisted": Entry.Sharing.UNLISTED}


class Command(BaseCommand):
    help = "The catalog: list entries, set an entry's sharing type, show who is late, send expiry notices."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        lister = sub.add_parser("list", help="list catalog entries")
        lister.add_argument("--owner", help="only this department's entries")
        setter = sub.add_parser("set", help="change an entry's sharing type or cadence")
        setter.add_argument("slug")
        setter.add_argument("--sharing", choices=sorted(SHARING),
                            help="open (无条件共享), application (有条件共享) or unlisted (不予共享)")
        setter.add_argument("--legal-basis", default="", help="required for unlisted: the law that forbids sharing")
        setter.add_argument("--cadence", help="monthly:DAY, monthly, quarterly, yearly, weekly or on_change")
        overdue = sub.add_parser("overdue", help="entries whose scheduled update is late, and late answers")
        overdue.add_argument("--owner", help="only this department's entries")
        sub.add_parser("notify-expiring", help="notify departments of grants expiring within 7 days (run daily)")

    def handle(self, *args, action, **opts):
        getattr(self, f"do_{action.replace('-', '_')}")(**opts)

    def do_list(self, owner=None, **_):
        entries = Entry.objects.select_related("owner")
        if owner:
            entries = entries.filter(owner__code=owner)
        self.stdout.write("slug\tkind\towner\tsharing\tcadence\tpublished\ttitle")
        for e in entries:
            published = timezone.localtime(e.last_published_at).strftime("%Y-%m-%d") if e.last_published_at else "-"
            self.stdout.write(f"{e.slug}\t{e.kind}\t{e.owner.code}\t{e.sharing}\t{e.cadence}\t{published}\t{e.title_zh}")

    def do_set(self, slug, sharing=None, legal_basis="", cadence=None, **_):
        from catalog.schedule import next_due, validate_cadence

        entry = Entry.objects.filter(slug=slug).first()
        if entry is None:
            raise CommandError(f"no catalog entry {slug!r}")
        if sharing:
            if sharing == "unlisted" and not (legal_basis or entry.legal_basis):
                raise CommandError("an entry that is not shared (不予共享) must cite its legal basis: --legal-basis")
            entry.sharing = SHARING[sharing]
            entry.legal_basis = legal_basis or entry.legal_basis
        if cadence:
            try:
                entry.cadence = validate_cadence(cadence)
            except Exception as exc:
                raise CommandError(str(exc)) from None
            entry.next_due_at = next_due(cadence, entry.last_published_at) if entry.last_published_at else None
        entry.save()
        self.stdout.write(f"{entry.slug}: sharing {entry.sharing}, cadence {entry.cadence}")

    def do_overdue(self, owner=None, **_):
        from catalog.models import Department

        dept = Department.objects.filter(code=owner).first() if owner else None
        if owner and dept is None:
            raise CommandError(f"no department {owner!r}")
        late = list(overdue_entries(dept))
        now = timezone.now()
        self.stdout.write(f"{len(late)} overdue entries")
        for e in late:
            days = (now - e.next_due_at).days if e.next_due_at else None
            late_by = f"{days} days late" if days is not None else "never published"
            self.stdout.write(f"{e.owner.code}\t{e.slug}\t{e.cadence}\t{late_by}\t{e.title_zh}")
        checks, answers = overdue_answers()
        for a in checks:
            self.stdout.write(f"conformity check late\tapplication #{a.pk}\tdue {timezone.localtime(a.conformity_due_at):%Y-%m-%d}")
        for a in answers:
            self.stdout.write(f"owner answer late\tapplication #{a.pk}\tdue {timezone.localtime(a.answer_due_at):%Y-%m-%d}")

    def do_notify_expiring(self, **_):
        self.stdout.write(f"{notify_expiring_grants()} expiry notices sent")
