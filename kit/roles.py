"""The three roles (Django groups) and the one place that decides who may open what."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMIN = "Admin"
MARKETER = "Marketer"
ANALYST = "Analyst"
ROLES = (ADMIN, MARKETER, ANALYST)

# Who may read each area, and who may change it. Admins may do everything.
READERS = (MARKETER, ANALYST)
WRITERS = (MARKETER,)


def user_roles(user) -> set[str]:
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return {ADMIN}
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._role_names = cached
    return cached


def user_role(user) -> str | None:
    """The user's main role, for display: the most powerful one held."""
    roles = user_roles(user)
    return next((role for role in ROLES if role in roles), None)


def has_role(user, *roles: str) -> bool:
    held = user_roles(user)
    return ADMIN in held or bool(held.intersection(roles))


def role_required(*roles: str) -> Callable:
    """View decorator: 403 unless the user holds one of `roles` (Admins always pass)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
