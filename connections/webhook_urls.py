from django.urls import path

from connections import views

urlpatterns = [path("line/<str:slug>/", views.line_webhook, name="line_webhook")]
