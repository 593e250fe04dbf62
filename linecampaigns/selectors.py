"""Reads of the shell's own pages: the home page's counts span every app."""

from audiences.models import Contact
from campaigns.models import Campaign
from connections.models import Connection


def dashboard_counts() -> dict[str, int]:
    return {
        "contacts": Contact.objects.count(),
        "campaigns": Campaign.objects.count(),
        "connections": Connection.objects.count(),
    }
