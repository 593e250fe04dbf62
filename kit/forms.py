from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password

from kit.roles import MARKETER, ROLES
from kit.timezones import zone_choices

User = get_user_model()
ROLE_CHOICES = [(role, role) for role in ROLES]


class BootstrapForm(forms.Form):
    """Adds Bootstrap classes and marks invalid fields; every form in the project uses it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid"
                widget.attrs["aria-invalid"] = "true"


class UserCreateForm(BootstrapForm):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    # Marketer, not the first choice (Admin): the least surprising role for a new colleague.
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=MARKETER)
    password = forms.CharField(
        widget=forms.PasswordInput, help_text="The user can change it after logging in."
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"A user named {username!r} already exists.")
        return username

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # Fields clean in order, so the username (when valid) is known by now.
        validate_password(password, User(username=self.cleaned_data.get("username", "")))
        return password


class UserRoleForm(BootstrapForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class AuditFilterForm(BootstrapForm):
    actor = forms.CharField(required=False)
    action = forms.CharField(required=False)
    target = forms.CharField(required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ApiTokenForm(BootstrapForm):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CRM sync'.")


class TimeZoneField(forms.ChoiceField):
    """A listed IANA time zone, the common ones first (see kit.timezones)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Time zone")
        super().__init__(choices=zone_choices, **kwargs)


class ProfileForm(BootstrapForm):
    time_zone = TimeZoneField(
        help_text="Dates and times on every page are shown in this zone, and new campaigns "
        "are scheduled in it unless you choose another."
    )
