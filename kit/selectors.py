from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from kit.models import AuditEntry, UserProfile

User = get_user_model()


def audit_entries(
    *, actor: str = "", action: str = "", target: str = "", since=None, until=None
) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name__icontains=actor)
    if action:
        entries = entries.filter(action__startswith=action)
    if target:
        entries = entries.filter(Q(target_repr__icontains=target) | Q(target_id=target))
    if since:
        entries = entries.filter(created_at__date__gte=since)
    if until:
        entries = entries.filter(created_at__date__lte=until)
    return entries


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def user_time_zone(*, user) -> str:
    """The user's own time zone, or "" when none is set."""
    if not user.is_authenticated:
        return ""
    found = UserProfile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return found or ""


def users_with_roles() -> QuerySet:
    return User.objects.order_by("username").prefetch_related("groups")
