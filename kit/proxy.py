"""The client's address when the dashboard runs behind reverse proxies."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address TRUSTED_PROXY_COUNT hops from the right of X-Forwarded-For + REMOTE_ADDR.

    Each trusted proxy appends the address it received the request from, so the entry just left
    of the last trusted proxy is the client; anything further left was written by the client and
    proves nothing. With no trusted proxy (the default) X-Forwarded-For is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [a.strip() for a in forwarded.split(",") if a.strip()] + [remote]
    candidate = chain[max(len(chain) - 1 - trusted, 0)]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
