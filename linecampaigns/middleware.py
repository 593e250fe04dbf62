import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from linecampaigns.selectors import user_time_zone
from linecampaigns.timezones import canonical_zone


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


class HealthzMiddleware:
    """Answers `/healthz` before host validation and the HTTPS redirect, so a container or
    load-balancer probe that calls http://127.0.0.1:8000/healthz gets the real health, whatever
    ALLOWED_HOSTS says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz" and request.method in ("GET", "HEAD"):
            from linecampaigns.views import healthz

            return healthz(request)
        return self.get_response(request)
