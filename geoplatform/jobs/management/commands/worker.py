import time

from django.core.management.base import BaseCommand

from geoplatform.jobs.queue import work_once, worker_name


class Command(BaseCommand):
    help = "Run background jobs (batch geocoding...): lease chunks from the database queue until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
        parser.add_argument("--idle", type=float, default=1.0, help="seconds to wait when the queue is empty")

    def handle(self, *args, once, idle, **options):
        import geoplatform.geocoding.jobs  # noqa: F401 - registers the geocoding handler

        name = worker_name()
        self.stdout.write(f"worker {name} started")
        while True:
            if not work_once(name):
                if once:
                    return
                time.sleep(idle)
