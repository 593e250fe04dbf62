import datetime as dt

from django import forms
from django.utils import timezone

from analytics.selectors import REASON_LABELS
from campaigns.models import Delivery
from kit.forms import BootstrapForm

DEFAULT_DAYS = 30
# No campaign was launched before this day or after today: the chosen days are clamped to
# them, so that 9999-12-31 shows everything so far instead of overflowing a date.
FIRST_DAY = dt.date(2000, 1, 1)
STATUS_CHOICES = [
    ("", "Any status"),
    ("attempted", "Attempted (sent or failed)"),
    *Delivery.Status.choices,
]
REASON_CHOICES = [("", "Any reason"), *REASON_LABELS.items()]


class DateRangeForm(BootstrapForm):
    start = forms.DateField(
        label="Launched from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def range(self) -> tuple[dt.date, dt.date]:
        """The chosen days, the last 30 by default."""
        today = timezone.localdate()  # the viewer's day, like the overview's other days
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        start, end = sorted(min(max(day, FIRST_DAY), today) for day in (start, end))
        return start, end


class DeliveryFilterForm(BootstrapForm):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    reason = forms.ChoiceField(choices=REASON_CHOICES, required=False)
    http_status = forms.IntegerField(
        label="HTTP status", required=False, min_value=0, max_value=599
    )
    line_id = forms.CharField(label="LINE id", required=False, max_length=33)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
