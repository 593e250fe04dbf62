from django import forms

from connections.models import LINE_MULTICAST_RATE, LINE_PUSH_RATE
from kit.forms import BootstrapForm

SECRET_WIDGET = forms.PasswordInput(attrs={"autocomplete": "off"})
SECRET_FIELDS = ("channel_access_token", "channel_secret")


class ConnectionForm(BootstrapForm):
    """Add a connection; every field but the base URL is required."""

    name = forms.CharField(max_length=100, help_text="A name your team recognises, e.g. 'Main OA'.")
    channel_access_token = forms.CharField(
        label="Channel access token",
        widget=SECRET_WIDGET,
        help_text="LINE Developers Console → your channel → Messaging API → "
        "Channel access token (long-lived).",
    )
    channel_secret = forms.CharField(
        label="Channel secret",
        widget=SECRET_WIDGET,
        help_text="LINE Developers Console → your channel → Basic settings → Channel secret. "
        "Used to verify webhook signatures.",
    )
    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Leave empty for LINE's own API. Another address (the LINE emulator for a "
        "sandbox) must be listed in the LINE_API_BASE_URL_ALLOWLIST setting.",
    )
    push_rate_limit = forms.IntegerField(
        label="Push requests per second",
        min_value=1,
        max_value=LINE_PUSH_RATE,
        initial=LINE_PUSH_RATE,
        required=False,
        help_text=f"At most LINE's {LINE_PUSH_RATE:,}. Lower it to leave room for other "
        "systems that use this channel.",
    )
    multicast_rate_limit = forms.IntegerField(
        label="Multicast requests per second",
        min_value=1,
        max_value=LINE_MULTICAST_RATE,
        initial=LINE_MULTICAST_RATE,
        required=False,
        help_text=f"At most LINE's {LINE_MULTICAST_RATE:,}; each request reaches up to 500 people.",
    )
    # Shown only after a save found the channel already connected (see connection_create).
    confirm_duplicate = forms.BooleanField(
        required=False, label="Add it anyway, as a second connection to this channel"
    )

    _cleaning = False

    def secrets_to_retype(self) -> str:
        """After a failed save, the sentence asking again for the secrets that were typed: a
        password input is never sent back to the browser, so they are empty now."""
        if not self.is_bound or not self.errors:
            return ""
        typed = {name for name in SECRET_FIELDS if str(self.data.get(name, "")).strip()}
        if typed == set(SECRET_FIELDS):
            what, pronoun = "the channel secret and access token", "they are"
        elif typed:
            what, pronoun = "the " + self.fields[typed.pop()].label.lower(), "it is"
        else:
            return ""
        return f"Enter {what} again: for safety {pronoun} not sent back to your browser."

    def full_clean(self) -> None:
        self._cleaning = True
        try:
            super().full_clean()
        finally:
            self._cleaning = False

    def add_error(self, field: str | None, error) -> None:
        # Errors from LINE arrive after validation (which marks its own): mark their input too.
        super().add_error(field, error)
        if not self._cleaning and field in self.fields:
            widget = self.fields[field].widget
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
            widget.attrs["aria-invalid"] = "true"


class ConnectionEditForm(ConnectionForm):
    """Edit: an empty token or secret keeps the stored one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "confirm_duplicate"
        ].label = "Use it anyway: this channel is then connected twice"
        for name in SECRET_FIELDS:
            self.fields[name].required = False
        self.fields["channel_access_token"].help_text = (
            "Leave empty to keep the current token. A new token is verified with LINE first. "
            "Changing the API base URL needs the token again."
        )
        self.fields["channel_secret"].help_text = "Leave empty to keep the current secret."
