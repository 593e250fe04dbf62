from django.urls import path

from connections import views

urlpatterns = [
    path("", views.connection_list, name="connection_list"),
    path("add/", views.connection_add, name="connection_add"),
    path("<int:pk>/", views.connection_detail, name="connection_detail"),
    path("<int:pk>/edit/", views.connection_edit, name="connection_edit"),
    path("<int:pk>/delete/", views.connection_delete, name="connection_delete"),
    path("<int:pk>/check/", views.connection_check, name="connection_check"),
    path("<int:pk>/quota/", views.connection_quota, name="connection_quota"),
    path("<int:pk>/reveal/", views.connection_reveal, name="connection_reveal"),
]
