from django.http import HttpRequest

from kit.roles import ADMIN, READERS, has_role, user_role

# (label, url, section prefix, roles allowed); the nav shows only what the role may open.
NAV_ITEMS = [
    ("Campaigns", "/campaigns/", "/campaigns/", READERS),
    ("Journeys", "/journeys/", "/journeys/", READERS),
    ("Audience", "/audiences/contacts/", "/audiences/", READERS),
    ("Templates", "/campaigns/templates/", "/campaigns/templates/", READERS),
    ("Analytics", "/analytics/", "/analytics/", READERS),
    ("Connections", "/connections/", "/connections/", (ADMIN,)),
    ("Settings", "/settings/users/", "/settings/", (ADMIN,)),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    allowed = [item for item in NAV_ITEMS if has_role(user, *item[3])]
    # The longest matching prefix wins: /campaigns/templates/ is Templates, not Campaigns.
    matches = [prefix for _, _, prefix, _ in allowed if request.path.startswith(prefix)]
    current = max(matches, key=len, default=None)
    items = [
        {"label": label, "url": url, "active": prefix == current}
        for label, url, prefix, _ in allowed
    ]
    return {"nav_items": items, "user_role": user_role(user)}
