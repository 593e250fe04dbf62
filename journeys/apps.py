from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"

    def ready(self) -> None:
        # What LINE's webhook events and the brand's events start (docs/design.md §11), and
        # what connections and audiences get from journeys (§5.3). Installed after audiences,
        # so its webhook handlers run after audiences' have made the contact.
        from audiences import hooks as audience_hooks
        from campaigns.caps import register_recent_sends
        from connections import hooks as connection_hooks
        from journeys import receivers, triggers
        from journeys.entry import cap_subquery

        triggers.register()
        register_recent_sends(cap_subquery)
        for signal, receiver in (
            (connection_hooks.connection_deleting, receivers.connection_deleting),
            (audience_hooks.contact_merging, receivers.contact_merging),
        ):
            signal.connect(receiver, dispatch_uid=f"journeys.{receiver.__name__}")
