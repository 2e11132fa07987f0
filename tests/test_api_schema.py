"""Schemathesis against our own OpenAPI schema: whatever a client sends, never a 5xx, and
every answer matches the schema it documents."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.config import Settings
from nurture.store import Store

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_never_fails_and_keeps_its_schema(
    env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    settings.temporal_address = env.client.service_client.config.target_host
    app = create_app(settings, relay=False)
    headers = {"Authorization": f"Bearer {create_api_key(store, 'fuzz', ['ingest', 'admin'])}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
