"""``geoplatform user``: staff logins of a department, without the admin pages."""

from __future__ import annotations

import getpass
import secrets
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Department, User


class Command(BaseCommand):
    help = ("Add a staff login to a department, or list the logins. The password is prompted for on a "
            "terminal; otherwise (or with --generate) one is generated and printed once, as the last line.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a staff login (web pages: 我的部门, applications, decisions)")
        add.add_argument("code", help="department code (geoplatform department list)")
        add.add_argument("username", help="login name, e.g. zhangsan")
        add.add_argument("--name", default="", help="the person's name, e.g. 张三")
        add.add_argument("--email", default="")
        add.add_argument("--generate", action="store_true", help="generate the password even on a terminal")
        lister = sub.add_parser("list", help="list staff logins")
        lister.add_argument("code", nargs="?", help="only this department's logins")

    def handle(self, *args, action, **opts):
        if action == "list":
            self.do_list(opts["code"])
        else:
            self.do_add(opts)

    def do_list(self, code: str | None) -> None:
        users = User.objects.select_related("department").order_by("department__code", "username")
        if code:
            if not Department.objects.filter(code=code).exists():
                raise CommandError(f"no department {code!r} (geoplatform department list)")
            users = users.filter(department__code=code)
        self.stdout.write("username\tdepartment\tname\tactive\tlast login")
        for u in users:
            last = f"{u.last_login:%Y-%m-%d %H:%M %Z}" if u.last_login else "-"
            self.stdout.write(f"{u.username}\t{u.department.code if u.department else '-'}\t{u.first_name}\t"
                              f"{'yes' if u.is_active else 'no'}\t{last}")

    def do_add(self, opts) -> None:
        department = Department.objects.filter(code=opts["code"]).first()
        if department is None:
            raise CommandError(f"no department {opts['code']!r}: add it with `geoplatform department add`")
        if User.objects.filter(username=opts["username"]).exists():
            raise CommandError(f"a login {opts['username']!r} already exists")
        user = User(username=opts["username"], department=department, first_name=opts["name"], email=opts["email"])
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        generated = opts["generate"] or not sys.stdin.isatty()
        password = secrets.token_urlsafe(12) if generated else self._prompt(user)
        user.set_password(password)
        user.save()
        self.stdout.write(f"added login {user.username} to {department.code} ({department.name_zh})")
        if generated:
            self.stdout.write("Store the password now: it is shown only once.")
            self.stdout.write(password)

    def _prompt(self, user: User) -> str:
        password = getpass.getpass("password: ")
        if password != getpass.getpass("again: "):
            raise CommandError("the two passwords differ; nothing was added")
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        return password
