from django.core.management.base import BaseCommand

from cloudassist.seed import seed_demo


class Command(BaseCommand):
    help = "Create the demo roles, users and templates (idempotent; existing rows are left alone)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Password for newly created demo users (default: DEMO_PASSWORD).")

    def handle(self, *args, password=None, **options):
        report = seed_demo(password=password)
        for item in report.created:
            self.stdout.write(f"created {item}")
        self.stdout.write(
            self.style.SUCCESS(f"demo data ready: {len(report.created)} created, {len(report.existing)} already there")
        )
