from django.urls import path

from audiences import views

urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/opt-out/", views.contact_opt_out_view, name="contact_opt_out"),
    path("contacts/<int:pk>/delete/", views.contact_delete_view, name="contact_delete"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_edit, name="segment_create"),
    path("segments/builder/", views.segment_builder, name="segment_builder"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/count/", views.segment_count_view, name="segment_count"),
    path("segments/<int:pk>/delete/", views.segment_delete_view, name="segment_delete"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
]
