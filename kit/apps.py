from django.apps import AppConfig


class KitConfig(AppConfig):
    """The floor every app stands on (docs/design.md §1): users' roles, profiles and API tokens,
    the audit log, secrets at rest, the API kit, and small shared helpers. Imports no other app
    of the project."""

    name = "kit"
    verbose_name = "Accounts and shared kit"
