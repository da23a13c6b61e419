"""Reconcile what exists with what was planned, now (the job does it every RECONCILE_INTERVAL_SECONDS)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

import providers
from provisioning import reconciliation


class Command(BaseCommand):
    help = (
        "List every provider's resources tagged managed-by: cloudassist, record the orphans (no live request owns "
        "them; removed once orphaned ORPHAN_PURGE_AFTER_HOURS) and mark DEPLOYED requests whose resources are "
        "missing; print the counts, the orphans and the drifted requests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--purge", action="store_true", help="remove every orphan found now, whatever its age")
        parser.add_argument(
            "--provider", action="append", dest="only", metavar="NAME", help="only this provider (repeatable)"
        )

    def handle(self, *args, purge: bool = False, only: list[str] | None = None, **options):
        unknown = sorted(set(only or []) - set(providers.names()))
        if unknown:
            raise CommandError(
                f"No provider is registered for {', '.join(unknown)}; use {', '.join(providers.names())}."
            )
        now = timezone.now()
        counts = reconciliation.reconcile_resources(now=now, only=only)
        self.stdout.write(" ".join(f"{name}={value}" for name, value in counts.items()))
        orphans = reconciliation.current_orphans(only=only)
        if purge:
            for orphan in orphans:
                removal = reconciliation.purge_orphan(orphan, now=now)
                verdict = "removed" if removal.removed else f"not removed: {removal.reason}"
                self.stdout.write(f"{orphan}: {verdict}")
            orphans = reconciliation.current_orphans(only=only)
        self.stdout.write(f"{len(orphans)} orphan(s)")
        for orphan in orphans:
            cost = f"${orphan.usd_per_hour:.4f}/h" if orphan.usd_per_hour is not None else "cost unknown"
            tag = orphan.request_tag or "no request tag"
            self.stdout.write(
                f"  {orphan.provider} {orphan.kind} {orphan.name} {orphan.region or '-'} ({tag}): "
                f"orphaned {reconciliation.age(orphan.first_seen, now)}, {cost}"
                + (f"; last removal failed: {orphan.last_error}" if orphan.last_error else "")
            )
        drifted = reconciliation.drifted_requests()
        self.stdout.write(f"{len(drifted)} drifted request(s)")
        for request in drifted:
            self.stdout.write(f"  {request.pk}: missing {'; '.join((request.drift or {}).get('missing', []))}")
