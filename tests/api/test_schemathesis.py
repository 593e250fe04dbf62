"""The OpenAPI document is true: a bounded schemathesis run against the API, in process.

Every response must be documented for its operation, no request may meet a 5xx, and a request
the schema calls valid must not be refused for its shape (400). A 422 is the documented answer
for content no schema can state (an id that refers to nothing, LINE's message rules)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from kit.services import api_token_create
from linecampaigns.api import api

CONFIG = {
    "seed": 20261203,
    # U+0000 is refused wherever it appears (a 400 naming the field, see input_guard), which
    # a JSON Schema cannot state for free-form values such as contact attributes.
    "generation": {"allow-x00": False},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
        },
    },
}


@pytest.fixture
def api_schema(db):
    document = api.get_openapi_schema(path_prefix="/api/v1")
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(CONFIG))
    schema.app = get_wsgi_application()
    # As Django's test client does: the WSGI handler would otherwise close the test's database
    # connection at each request's start and end (and with it the test's transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def bearer(admin_user) -> dict[str, str]:
    _, raw = api_token_create(user=admin_user, name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case, bearer):
    case.call_and_validate(headers=bearer)
