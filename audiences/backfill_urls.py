"""The follower backfill's pages, at their paths under /connections/ (the shell includes this
next to connections.urls): the connection's page shows its card (docs/design.md §5.3)."""

from django.urls import path

from audiences import views

urlpatterns = [
    path("<int:pk>/backfill/", views.backfill_start, name="connection_backfill"),
    path(
        "<int:pk>/backfill/progress/", views.backfill_progress, name="connection_backfill_progress"
    ),
]
