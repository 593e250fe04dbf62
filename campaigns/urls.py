from django.urls import path

from campaigns import views

urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_new, name="campaign_new"),
    path("<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("<int:campaign_id>/review/", views.campaign_review, name="campaign_review"),
    path("<int:campaign_id>/launch/", views.campaign_launch, name="campaign_launch"),
    path("<int:campaign_id>/test-send/", views.campaign_test_send, name="campaign_test_send"),
    path("<int:campaign_id>/pause/", views.campaign_pause, name="campaign_pause"),
    path("<int:campaign_id>/resume/", views.campaign_resume, name="campaign_resume"),
    path("<int:campaign_id>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path("<int:campaign_id>/copy/", views.campaign_copy, name="campaign_copy"),
    path("<int:campaign_id>/delete/", views.campaign_delete, name="campaign_delete"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("templates/<int:template_id>/delete/", views.template_delete, name="template_delete"),
    path("settings/frequency-cap/", views.frequency_cap, name="frequency_cap"),
]
