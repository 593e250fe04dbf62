import hashlib
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import models, transaction
from django.utils import timezone

from kit.models import ApiToken, AuditEntry, UserProfile
from kit.roles import ADMIN, ROLES
from kit.timezones import canonical_zone

User = get_user_model()


def audit_record(
    *,
    actor: AbstractUser | None,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log. `details` must never hold a secret."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        details=details or {},
    )


@transaction.atomic
def user_create(
    *, actor: AbstractUser | None, username: str, email: str, role: str, password: str
) -> AbstractUser:
    user = User.objects.create_user(username=username, email=email, password=password)
    user.groups.set([Group.objects.get(name=role)])
    audit_record(actor=actor, action="user.create", target=user, details={"role": role})
    return user


@transaction.atomic
def user_set_role(*, actor: AbstractUser, user: AbstractUser, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}.")
    if role != ADMIN and user.groups.filter(name=ADMIN).exists():
        if user.pk == actor.pk:
            raise ValueError("You cannot take away your own Admin role; another Admin can.")
        admins = User.objects.filter(groups__name=ADMIN, is_active=True).exclude(pk=user.pk)
        if not admins.exists():
            raise ValueError(f"{user.username} is the last active Admin and keeps that role.")
    old = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    audit_record(
        actor=actor, action="user.role_change", target=user, details={"from": old, "to": role}
    )


def user_set_active(*, actor: AbstractUser, user: AbstractUser, active: bool) -> None:
    if user.pk == actor.pk and not active:
        raise ValueError("You cannot deactivate your own account.")
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit_record(actor=actor, action="user.activate" if active else "user.deactivate", target=user)


def user_set_time_zone(*, user: AbstractUser, time_zone: str) -> str:
    """Save the user's time zone (an alias is stored as its listed zone); returns it."""
    zone = canonical_zone(time_zone)
    if zone is None:
        raise ValueError(f"Unknown time zone {time_zone!r}; choose one from the list.")
    UserProfile.objects.update_or_create(user=user, defaults={"time_zone": zone})
    return zone


def user_adopt_browser_time_zone(*, user: AbstractUser, browser_zone: str) -> None:
    """On login: a user who has no time zone yet takes the browser's, if it is a known one
    (otherwise pages keep using TIME_ZONE until the user chooses one)."""
    zone = canonical_zone(browser_zone)
    if zone and not UserProfile.objects.filter(user=user).exclude(time_zone="").exists():
        UserProfile.objects.update_or_create(user=user, defaults={"time_zone": zone})


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user: AbstractUser, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with the raw key, which is never stored or shown again."""
    raw = "lc_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:10], key_hash=_hash_token(raw)
    )
    audit_record(actor=user, action="api_token.create", target=token)
    return token, raw


def api_token_revoke(*, user: AbstractUser, token: ApiToken) -> None:
    audit_record(actor=user, action="api_token.revoke", target=token)
    token.delete()


def api_token_authenticate(*, raw: str) -> AbstractUser | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_token(raw), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
