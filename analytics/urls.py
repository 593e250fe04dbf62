from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.overview, name="analytics_overview"),
    path("campaigns/<int:pk>/", views.campaign_report, name="analytics_campaign_report"),
    path(
        "campaigns/<int:pk>/progress/",
        views.campaign_progress,
        name="analytics_campaign_progress",
    ),
    path(
        "campaigns/<int:pk>/deliveries/",
        views.delivery_log,
        name="analytics_delivery_log",
    ),
    path(
        "campaigns/<int:pk>/deliveries.csv",
        views.delivery_export,
        name="analytics_delivery_export",
    ),
    path("campaigns/<int:pk>/retry/", views.campaign_retry, name="analytics_campaign_retry"),
]
