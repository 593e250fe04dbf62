from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from linecampaigns.views import healthz


class HealthzMiddleware:
    """Answers `/healthz` before host validation and the HTTPS redirect, so a container or
    load-balancer probe that calls http://127.0.0.1:8000/healthz gets the real health, whatever
    ALLOWED_HOSTS says."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz" and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)
