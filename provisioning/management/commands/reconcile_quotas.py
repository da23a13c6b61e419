"""Recompute every usage ledger from the requests holding a reservation, now (the sweep does it too)."""

from django.core.management.base import BaseCommand

from provisioning.services import reservations


class Command(BaseCommand):
    help = (
        "Recompute each user's usage ledger from their provision requests that hold a reservation "
        "(reservation_state HELD), set back every ledger that drifted (each correction is logged and counted in "
        "cloudassist_quota_ledger_corrections_total) and print the counts."
    )

    def handle(self, *args, **options):
        counts = reservations.reconcile_ledgers()
        self.stdout.write(" ".join(f"{name}={value}" for name, value in counts.items()))
