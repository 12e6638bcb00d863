"""Schemathesis over the whole API, for a token of each role, against the demo clinic.

For every operation in the OpenAPI schema, a few generated requests per role must get no
5xx, a status code the schema declares, and a body that matches the schema; then the
stateful phase chains operations through the links schemathesis infers (a created
appointment's id into its cancel, and so on). The WSGI application runs in this process,
inside the test's database transaction, so nothing outlives the test.

Marked ``fuzz``: ``pytest -m fuzz`` runs only this, ``-m "not fuzz"`` leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from hypothesis import given as hypothesis_given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from clinic.models import User
from tests.api_tokens import api_key_for

pytestmark = [pytest.mark.fuzz]

EXAMPLES_PER_OPERATION = 5
STATEFUL_SCENARIOS = 10
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
ROLES = ["fran", "nina", "phil", "alice", "edie"]
HYPOTHESIS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,  # no example database on disk: each run starts fresh
    derandomize=True,  # the same examples on every run, so a failure can be replayed
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def api_token(user: User) -> str:
    return api_key_for(user, name="fuzz")


@pytest.fixture
def demo_clinic(settings: Any, db: None) -> None:
    """The demo clinic's locations, chairs, patients and appointments, so the stateful
    phase and the detail operations find real ids."""
    settings.DEBUG = True  # the demo patients are seeded only in development
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]


@pytest.fixture
def api_schema(demo_clinic: None) -> Iterator[Any]:
    # As Django's test client does: the requests run inside the test's transaction, so the
    # end of a request must not close the database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz_each_operation(schema: Any, headers: dict[str, str]) -> list[str]:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @HYPOTHESIS
        @hypothesis_given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation gets its turn
            failures.append(f"{operation.label}: {exc}")
    return failures


def _stateful(schema: Any, headers: dict[str, str]) -> Callable[[], None]:
    workflow = schema.as_state_machine()

    class Workflow(workflow):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    return lambda: Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_the_schema_says_for_each_role(
    request: pytest.FixtureRequest, api_schema: Any, role: str
):
    headers = {"Authorization": f"Token {api_token(request.getfixturevalue(role))}"}

    failures = _fuzz_each_operation(api_schema, headers)

    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_chained_operations_answer_as_the_schema_says_for_each_role(
    request: pytest.FixtureRequest, api_schema: Any, role: str
):
    headers = {"Authorization": f"Token {api_token(request.getfixturevalue(role))}"}

    _stateful(api_schema, headers)()
