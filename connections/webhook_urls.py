from django.urls import path, re_path

from connections import views

# LINE posts to exactly the URL pasted in its console and follows no redirect: answer with
# and without the trailing slash.
urlpatterns = [
    path("line/<str:slug>/", views.line_webhook, name="line_webhook"),
    re_path(r"^line/(?P<slug>[^/]+)$", views.line_webhook),
]
