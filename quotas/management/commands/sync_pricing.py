from django.core.management.base import BaseCommand, CommandError

from quotas import pricing_seed
from quotas.pricing_sync import PricingSyncError, sync_pricing


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


class Command(BaseCommand):
    help = (
        "Refresh instance, disk (gp2/gp3) and EKS control-plane prices from the AWS Price List API "
        "(needs AWS credentials allowed pricing:GetProducts)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--regions",
            type=_names,
            help=f"Comma-separated AWS regions (default: the seeded ones, {','.join(pricing_seed.REGIONS)}).",
        )
        parser.add_argument(
            "--instance-types",
            type=_names,
            help="Comma-separated EC2 instance types (default: the seeded ones, t2/m4/c4/r4/t3/t3a/m5/m6i/c5/r5).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Fetch and report, but write nothing.")
        parser.add_argument(
            "--endpoint-url", help="Price List API endpoint (default: boto3's, or AWS_ENDPOINT_URL_PRICING)."
        )

    def handle(self, *args, regions=None, instance_types=None, dry_run=False, endpoint_url=None, **options):
        try:
            result = sync_pricing(
                regions=regions or None,  # an empty list means the default
                instance_types=instance_types or None,
                dry_run=dry_run,
                endpoint_url=endpoint_url,
            )
        except PricingSyncError as exc:
            raise CommandError(str(exc)) from exc
        verb = "would be " if dry_run else ""
        for name, table in result.tables().items():
            self.stdout.write(
                f"{name}: {table.fetched} fetched, {table.created} {verb}created, {table.updated} {verb}updated, "
                f"{len(table.changed)} with a new price"
            )
            for change in table.changed:
                self.stdout.write(f"  {change}")
            if table.not_found:
                self.stdout.write(self.style.WARNING(f"  not in the Price List: {', '.join(table.not_found)}"))
        if dry_run:
            self.stdout.write(self.style.SUCCESS("dry run: nothing was written"))
        else:
            self.stdout.write(self.style.SUCCESS("prices refreshed from the AWS Price List API"))
