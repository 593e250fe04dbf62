from django.urls import path

from journeys import views

urlpatterns = [
    path("", views.journey_list, name="journey_list"),
    path("new/", views.journey_new, name="journey_new"),
    path("preview/", views.journey_preview, name="journey_preview"),
    path("<int:journey_id>/", views.journey_detail, name="journey_detail"),
    path("<int:journey_id>/edit/", views.journey_edit, name="journey_edit"),
    path("<int:journey_id>/activate/", views.journey_activate, name="journey_activate"),
    path("<int:journey_id>/pause/", views.journey_pause, name="journey_pause"),
    path("<int:journey_id>/archive/", views.journey_archive, name="journey_archive"),
    path("<int:journey_id>/delete/", views.journey_delete, name="journey_delete"),
    path("<int:journey_id>/runs/", views.journey_runs, name="journey_runs"),
    path("<int:journey_id>/runs.csv", views.journey_runs_csv, name="journey_runs_csv"),
]
