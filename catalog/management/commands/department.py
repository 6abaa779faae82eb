from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from catalog.models import Department


class Command(BaseCommand):
    help = "Add or list departments."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a department (or update the names of an existing one)")
        add.add_argument("code", help="short code, e.g. ghzrzyw")
        add.add_argument("name", help="Chinese name, e.g. 规划和自然资源委员会")
        add.add_argument("--en", default="", help="English name")
        add.add_argument("--responsible", default="", help="responsible person (共享责任人)")
        add.add_argument("--contact", default="", help="phone or e-mail of the responsible person")
        add.add_argument("--data-authority", action="store_true",
                         help="this department is the data authority (政务数据主管部门)")
        sub.add_parser("list", help="list departments")

    def handle(self, *args, action, **opts):
        if action == "list":
            self.stdout.write("code\tname\tname_en\tresponsible\trole")
            for d in Department.objects.all():
                role = "data authority" if d.is_data_authority else "-"
                self.stdout.write(f"{d.code}\t{d.name_zh}\t{d.name_en}\t{d.responsible_person or '-'}\t{role}")
            return
        dept = Department.objects.filter(code=opts["code"]).first() or Department(code=opts["code"])
        dept.name_zh = opts["name"]
        dept.name_en = opts["en"] or dept.name_en
        dept.responsible_person = opts["responsible"] or dept.responsible_person
        dept.contact = opts["contact"] or dept.contact
        dept.is_data_authority = opts["data_authority"] or dept.is_data_authority
        try:
            dept.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        created = dept.pk is None
        dept.save()
        self.stdout.write(f"{'added' if created else 'updated'} department {dept}")
