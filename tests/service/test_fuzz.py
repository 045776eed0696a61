"""Schemathesis against the published schema: no input, valid or not, gets a 5xx.

Every request carries the write token, so the fuzzer reaches the handlers (and may run the
pipeline on its own book); the auth cases are tested one by one in ``test_routes``. Every
default check runs but three: ``missing_required_header`` and ``ignored_auth`` (the token
is always there), and ``positive_data_acceptance`` (a date the schema allows may still not
be a trading day of the data, which is a 422 by design: the schema cannot list the calendar).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="fuzzing the service: pip install schemathesis")
pytest.importorskip("fastapi", reason="the service extra: pip install 'simlab[service]'")

from hypothesis import HealthCheck, settings

from simlab.service.app import create_app
from tests.service.conftest import WRITE, bearer, make_book, quickstart, settings_for  # noqa: F401

schema = schemathesis.pytest.from_fixture("service_schema")
EXCLUDED = [schemathesis.checks.missing_required_header, schemathesis.checks.ignored_auth,
            schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def service_schema(quickstart):  # noqa: F811
    """The schema of a service on its own book (the fuzzer may execute runs on it)."""
    app = create_app(settings_for(make_book(quickstart)))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=12, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_server_error(case):
    case.headers = {**(case.headers or {}), **bearer(WRITE)}  # schemathesis revalidates the edited case
    case.call_and_validate(excluded_checks=EXCLUDED)
