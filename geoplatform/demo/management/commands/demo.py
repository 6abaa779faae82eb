from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from geoplatform.demo.catalog import load_catalog
from geoplatform.demo.departments import load_departments
from geoplatform.demo.layers import load_demo_gazetteer, publish_demo_layers
from tiles.demo import load_demo_imagery


class Command(BaseCommand):
    help = ("Load the demo city: departments, one staff login each, an admin, an API key per department, the "
            "catalog, the city's layers (districts, townships, roads, businesses), its address gazetteer and two "
            "years of aerial imagery. "
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
        publish_demo_layers(say=lambda message: self.stdout.write(message))
        load_demo_gazetteer(say=lambda message: self.stdout.write(message))
        load_demo_imagery(say=lambda message: self.stdout.write(message))
        self.stdout.write(f"demo loaded; logins and keys are in {path}")
