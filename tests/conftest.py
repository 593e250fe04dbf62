from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group
from django.test import Client

from kit import crypto
from kit.roles import ADMIN, ANALYST, MARKETER
from linecampaigns.celery import app as celery_app

pytest_plugins = ["tests.emulator_fixtures"]

PASSWORD = "correct-horse-battery-staple-42"
TEST_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def encryption_key(settings) -> Iterator[str]:
    """A key of the test run's own: Django runs tests with DEBUG off, where it is required."""
    settings.FIELD_ENCRYPTION_KEY = [TEST_KEY]
    crypto._fernet.cache_clear()
    yield TEST_KEY
    crypto._fernet.cache_clear()


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run tasks in-process, as a worker would, when they are enqueued."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(django_user_model, username: str, role: str):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    # get_or_create: a transactional test before this one may have flushed the role groups.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admin_user(db, django_user_model):
    return _user(django_user_model, "alice-admin", ADMIN)


@pytest.fixture
def marketer(db, django_user_model):
    return _user(django_user_model, "mark-marketer", MARKETER)


@pytest.fixture
def analyst(db, django_user_model):
    return _user(django_user_model, "ana-analyst", ANALYST)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def marketer_client(marketer) -> Client:
    return _client_for(marketer)


@pytest.fixture
def analyst_client(analyst) -> Client:
    return _client_for(analyst)


@pytest.fixture
def api_client_for():
    """Returns a Django test client that sends a fresh bearer token of the given user."""
    from kit.services import api_token_create

    def make(user) -> Client:
        _, raw = api_token_create(user=user, name="test")
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run last: Playwright's session keeps an event loop that async tests
    after it would trip over."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.fspath))
