"""Helpers every app's views share: pagination and full-page-or-partial rendering."""

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def paginate(request: HttpRequest, items, per_page: int = 50) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def render_page(
    request: HttpRequest, template: str, context: dict, partial: str | None = None
) -> HttpResponse:
    """Render `partial` for htmx requests and the whole `template` otherwise."""
    if partial and request.headers.get("HX-Request") == "true":
        return render(request, partial, context)
    return render(request, template, context)
