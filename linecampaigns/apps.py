from django.apps import AppConfig


class LinecampaignsConfig(AppConfig):
    name = "linecampaigns"
    verbose_name = "LINE campaigns"

    def ready(self) -> None:
        from linecampaigns import health  # noqa: F401  (connects the worker_ready signal)
