from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kit import selectors, services
from kit.forms import (
    ApiTokenForm,
    AuditFilterForm,
    ProfileForm,
    UserCreateForm,
    UserRoleForm,
)
from kit.models import ApiToken
from kit.pages import paginate
from kit.roles import ADMIN, role_required, user_role
from kit.timezones import current_zone

User = get_user_model()


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        # app.js keeps the browser's zone in the `tz` cookie, the login page included.
        services.user_adopt_browser_time_zone(
            user=form.get_user(), browser_zone=self.request.COOKIES.get("tz", "")
        )
        return response


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"User {user.username} created as {form.cleaned_data['role']}.")
        return redirect("users")
    page = paginate(request, selectors.users_with_roles())
    rows = [(user, user_role(user)) for user in page]
    return render(request, "settings/users.html", {"form": form, "page": page, "rows": rows})


@role_required(ADMIN)
@require_http_methods(["POST"])
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    action = request.POST.get("action")
    try:
        if action == "role":
            form = UserRoleForm(request.POST)
            if not form.is_valid():
                raise ValueError("Choose one of the roles Admin, Marketer or Analyst.")
            services.user_set_role(actor=request.user, user=user, role=form.cleaned_data["role"])
            messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
        elif action in {"activate", "deactivate"}:
            services.user_set_active(actor=request.user, user=user, active=action == "activate")
            messages.success(request, f"{user.username} {action}d.")
        else:
            raise ValueError("Unknown action.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("users")


@role_required(ADMIN)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_entries(**{k: v for k, v in filters.items() if v})
    context = {
        "form": form,
        "page": paginate(request, entries.select_related("actor")),
        "actions": selectors.audit_actions(),
    }
    return render(request, "settings/audit.html", context)


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_token = None
    revoke = request.POST.get("revoke", "") if request.method == "POST" else ""
    if revoke:
        if not revoke.isdigit():
            raise Http404("No such token.")
        token = get_object_or_404(ApiToken, pk=revoke, user=request.user)
        services.api_token_revoke(user=request.user, token=token)
        messages.success(request, f"Token {token.name} revoked.")
        return redirect("api_tokens")
    if request.method == "POST" and form.is_valid():
        _, new_token = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    tokens = request.user.api_tokens.all()
    context = {"form": form, "tokens": tokens, "new_token": new_token}
    return render(request, "settings/api_tokens.html", context)


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    current = selectors.user_time_zone(user=request.user)
    form = ProfileForm(request.POST or None, initial={"time_zone": current or current_zone()})
    if request.method == "POST" and form.is_valid():
        zone = services.user_set_time_zone(
            user=request.user, time_zone=form.cleaned_data["time_zone"]
        )
        messages.success(request, f"Times are now shown in {zone}.")
        return redirect("profile")
    return render(request, "settings/profile.html", {"form": form, "time_zone": current})
