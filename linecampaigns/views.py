from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from linecampaigns import selectors
from linecampaigns.health import health_report


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    healthy = all(value == "ok" for value in report.values())
    return JsonResponse(report, status=200 if healthy else 503)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"counts": selectors.dashboard_counts()})
