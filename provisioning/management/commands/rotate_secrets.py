"""Re-encrypt every stored kubeconfig and credential with the first key of SECRETS_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from cloudassist import crypto
from provisioning.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the first SECRETS_KEYS key (or print a new key with --new-key)."

    def add_arguments(self, parser):
        parser.add_argument("--new-key", action="store_true", help="print a fresh Fernet key and exit")

    def handle(self, *args, new_key: bool = False, **options):
        if new_key:
            self.stdout.write(crypto.generate_key())
            return
        rotated = 0
        for credential in Credential.objects.only("pk", "ciphertext").iterator():
            try:
                token = crypto.rotate(credential.ciphertext)
            except crypto.SecretError as exc:
                raise CommandError(f"credential {credential.pk}: {exc}") from exc
            Credential.objects.filter(pk=credential.pk, ciphertext=credential.ciphertext).update(ciphertext=token)
            rotated += 1
        self.stdout.write(f"re-encrypted {rotated} secret(s) with the first SECRETS_KEYS key")
