from django.core.management.base import BaseCommand, CommandError

from connections.services import ConnectionVerifyError
from linecampaigns.demo import demo_is_needed, demo_seed


class Command(BaseCommand):
    help = "On an empty database, create the Sandbox connection, sample contacts and segments."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--emulator-url", required=True)
        parser.add_argument("--token", required=True)
        parser.add_argument("--secret", required=True)
        parser.add_argument("--contacts", type=int, default=1000)

    def handle(self, *args, **opts) -> None:
        if not demo_is_needed():
            self.stdout.write("The database has data already; no demo data added.")
            return
        try:
            result = demo_seed(
                emulator_url=opts["emulator_url"],
                token=opts["token"],
                secret=opts["secret"],
                contacts=opts["contacts"],
            )
        except ConnectionVerifyError as exc:
            raise CommandError(f"Could not connect the Sandbox to the emulator: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data: the 'Sandbox' connection (the bundled LINE emulator, not real LINE), "
                f"{result['contacts']} sample contacts, {result['segments']} segments, "
                f"{result['templates']} message templates and {result['journeys']} active "
                "journeys (welcome on follow, a COUPON keyword, a menu postback, order_shipped)."
            )
        )
