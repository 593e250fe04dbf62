from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from kit import views as kit_views
from kit.api import api_authenticated, json_method_not_allowed, unknown_path
from linecampaigns import views
from linecampaigns.api import api


def _api_urls(urls: tuple) -> tuple:
    """The API authenticates each request itself (bearer token or session) and answers 401 in
    JSON, so LoginRequiredMiddleware's redirect to the login page must not apply to it. A
    wrong method is a JSON 405, and a path no endpoint has a JSON 404 (the last pattern). The
    schema answers a token like the endpoints; the docs page is a page and asks for a login."""
    patterns, app_name, namespace = urls
    not_found = csrf_exempt(unknown_path)
    not_found.login_required = False
    for pattern in patterns:
        if pattern.name == "api-root":  # ninja's own raises Http404: Django's HTML page
            pattern.callback = not_found
        elif pattern.name == "openapi-json":
            pattern.callback = api_authenticated(pattern.callback)
            pattern.callback.login_required = False
        elif pattern.name != "openapi-view":
            pattern.callback = json_method_not_allowed(pattern.callback)
            pattern.callback.login_required = False
    return [*patterns, re_path(r"^(?P<rest>.*)$", not_found)], app_name, namespace


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", kit_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/tokens/", kit_views.api_tokens, name="api_tokens"),
    path("accounts/profile/", kit_views.profile, name="profile"),
    path("settings/users/", kit_views.users, name="users"),
    path("settings/users/<int:user_id>/", kit_views.user_edit, name="user_edit"),
    path("settings/audit/", kit_views.audit_log, name="audit_log"),
    path("api/v1/", _api_urls(api.urls)),
    path("connections/", include("connections.urls")),
    path("connections/", include("audiences.backfill_urls")),
    path("webhooks/", include("connections.webhook_urls")),
    path("audiences/", include("audiences.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("journeys/", include("journeys.urls")),
    path("analytics/", include("analytics.urls")),
]
