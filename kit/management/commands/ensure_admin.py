import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db.models import Q

from kit.roles import ADMIN


class Command(BaseCommand):
    help = "Create the first Admin when there is none, and print its password once."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        admin = (
            User.objects.filter(is_active=True)
            .filter(Q(groups__name=ADMIN) | Q(is_superuser=True))
            .order_by("date_joined")
            .first()
        )
        if admin is not None:
            self.stdout.write(
                f"An Admin exists already (Username: {admin.username}); "
                "log in with your own credentials."
            )
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password)
        user.groups.add(Group.objects.get(name=ADMIN))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the first Admin. Username: {username}  Password: {password}\n"
                "The password is shown only now: change it under your name > Change password."
            )
        )
