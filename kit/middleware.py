import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.defaults import page_not_found

from kit.selectors import user_time_zone
from kit.timezones import canonical_zone


class UserTimezoneMiddleware:
    """Shows times in the user's own time zone (their profile); without one, in the browser's
    (the `tz` cookie app.js sets); else in TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = user_time_zone(user=request.user) or canonical_zone(request.COOKIES.get("tz", ""))
        timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()  # the thread serves other requests (and tests) next


class ProductNotFoundMiddleware:
    """A missing page is the product's 404.html even with DEBUG on (`make run`), where Django
    would show its technical page with the URLconf. The API answers its own JSON 404 before an
    Http404 reaches here, and every /api/v1/ path resolves (its last pattern is a catch-all)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404 and request.resolver_match is None:
            # No URL pattern matched: Django built the 404 before any view middleware ran.
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None


class PermissionsPolicyMiddleware:
    """Adds the Permissions-Policy header (settings.PERMISSIONS_POLICY) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
