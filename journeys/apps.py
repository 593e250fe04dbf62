from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"

    def ready(self) -> None:
        # What LINE's webhook events and the brand's events start (docs/design.md §11). Installed
        # after audiences, so its handlers run after audiences' have made the contact.
        from journeys import triggers

        triggers.register()
