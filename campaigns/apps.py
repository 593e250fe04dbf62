from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        # What connections and audiences get from campaigns (docs/design.md §5.3).
        from audiences import hooks as audience_hooks
        from campaigns import receivers
        from connections import hooks as connection_hooks

        for signal, receiver in (
            (connection_hooks.connection_delete_context, receivers.connection_delete_context),
            (connection_hooks.connection_deleting, receivers.connection_deleting),
            (audience_hooks.contact_merging, receivers.contact_merging),
            (audience_hooks.contact_detail_context, receivers.contact_detail_context),
        ):
            signal.connect(receiver, dispatch_uid=f"campaigns.{receiver.__name__}")
