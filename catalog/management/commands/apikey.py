from django.core.management.base import BaseCommand, CommandError

from catalog.keys import create_api_key, revoke_api_key
from catalog.models import ApiKey, Department


class Command(BaseCommand):
    help = "Create, list or revoke API keys. A new key is printed once, as the last line of output."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key for a department's application")
        create.add_argument("code", help="department code")
        create.add_argument("--name", default="default", help="application name (default: default)")
        create.add_argument("--expires", type=int, metavar="DAYS", help="expire after DAYS days (default: never)")
        revoke = sub.add_parser("revoke", help="revoke a key")
        revoke.add_argument("key_id", help="the key's id (gp_xxxxxxxx) or the key itself")
        lister = sub.add_parser("list", help="list keys (ids, not secrets)")
        lister.add_argument("code", nargs="?", help="only this department's keys")

    def handle(self, *args, action, **opts):
        if action == "create":
            department = Department.objects.filter(code=opts["code"]).first()
            if department is None:
                raise CommandError(f"no department {opts['code']!r}: add it with `geoplatform department add`")
            try:
                key, raw = create_api_key(department, opts["name"], opts["expires"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M %Z}" if key.expires_at else "never expires"
            self.stdout.write(f"created key gp_{key.prefix} for {department.code}/{key.name}, {expiry}.")
            self.stdout.write("Store it now: it is shown only once.")
            self.stdout.write(raw)
        elif action == "revoke":
            try:
                key = revoke_api_key(opts["key_id"])
            except ApiKey.DoesNotExist as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"revoked gp_{key.prefix} ({key.department.code}/{key.name})")
        else:
            keys = ApiKey.objects.select_related("department")
            if opts["code"]:
                keys = keys.filter(department__code=opts["code"])
            self.stdout.write("key\tdepartment\tapplication\tstate\texpires")
            for k in keys:
                state = "active" if k.is_active else ("revoked" if k.revoked_at else "expired")
                self.stdout.write(f"gp_{k.prefix}\t{k.department.code}\t{k.name}\t{state}\t{k.expires_at or '-'}")
