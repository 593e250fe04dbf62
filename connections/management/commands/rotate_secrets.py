from django.core.management.base import BaseCommand

from connections.services import connections_rotate_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every connection's token and secret with the newest FIELD_ENCRYPTION_KEY "
        "(the first of the list). Run it after prepending a new key; then drop the old key."
    )

    def handle(self, *args, **options) -> None:
        count = connections_rotate_secrets()
        self.stdout.write(f"Re-encrypted the token and secret of {count} connection(s).")
