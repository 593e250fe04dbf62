from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"

    def ready(self) -> None:
        # What LINE's events and the connection's page get from audiences (docs/design.md §5).
        from audiences import backfill, events
        from connections import hooks

        events.register_handlers()
        hooks.connection_detail_panels.connect(backfill.backfill_panel, dispatch_uid="backfill")
