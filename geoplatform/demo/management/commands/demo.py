from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from geoplatform.demo.catalog import load_catalog
from geoplatform.demo.departments import load_departments


class Command(BaseCommand):
    help = ("Load the demo city: departments, one staff login each, an admin, and an API key per department. "
            "Idempotent; new passwords and keys are appended to <data dir>/demo-credentials.txt.")

    def handle(self, *args, **options):
        with transaction.atomic():
            created = load_departments()
            load_catalog()
        path = settings.DATA_DIR / "demo-credentials.txt"
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                for who, kind, secret in created:
                    fh.write(f"{who}\t{kind}\t{secret}\n")
            path.chmod(0o600)
        self.stdout.write(f"demo loaded; logins and keys are in {path}")
