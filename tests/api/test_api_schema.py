"""Schemathesis against our own OpenAPI schema, with every check it has: whatever a client
sends, never a 5xx; every answer as documented; every request the schema allows accepted,
every request it forbids refused; `Allow` and 405s that tell the truth.

The schema is read from an app built at import (schemathesis makes one test per operation
when the module loads); each test then calls the app of its own fixtures (a fresh store and
Temporal test server). Schemathesis' pytest loader for fixtures (`from_fixture`) does not
run on pytest 9, hence this shape.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from temporalio.testing import WorkflowEnvironment

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.api.segment_spec import event_type
from nurture.config import Settings
from nurture.leads.events import provider_only
from nurture.store.engine import Store
from tests.helpers.devstack import Stack

# A body over a route's byte limit is refused with 413 before it is read (the limit is in
# each route's documented responses): that is a refusal too, besides schemathesis' defaults.
REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://"), relay=False).openapi(), config=CONFIG
)
schema.app = create_app(Settings(database_url="sqlite://"), relay=False)  # replaced per test
# `/v1/journeys` reads visibility, which the time-skipping server lacks: a dev server's turn.
# Its `where` is a query in Temporal's language, which no schema can spell: a string the
# schema allows may still be a query visibility refuses, answered 422 with visibility's reason.
on_test_server = schema.exclude(tag="journeys").exclude(tag="segments").exclude(tag="broadcasts")


@on_test_server.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    """Two refusals the schema cannot spell, so no such body is generated as valid:
    - a track event named like a delivery fact ('Group Unsubscribe', 'email_opened', in any
      case or spacing) is refused with 422, as the `event` field's description says;
    - a lead's custom `attributes` must be ones the scenarios declare, which is the
      server's configuration: one they do not declare is a 422, as the field's description
      says."""
    items = body if isinstance(body, list) else [body]
    messages = [m for item in items if isinstance(item, dict) for m in _messages(item)]
    return not any(
        isinstance(m, dict) and (_delivery_fact(m) or _custom_attributes(m)) for m in messages
    )


def _messages(item: dict[str, object]) -> list[object]:
    batch = item.get("batch")
    return batch if isinstance(batch, list) else [item]


def _delivery_fact(message: dict[str, object]) -> bool:
    event = message.get("event")
    track = message.get("type", "track") == "track"
    return track and isinstance(event, str) and provider_only(event_type(event))


def _custom_attributes(message: dict[str, object]) -> bool:
    attributes = message.get("attributes")
    return isinstance(attributes, dict) and bool(attributes)


QUERY_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REFUSALS},
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", 401, 403, 404, 409, 422, 429]
            },
        }
    }
)
on_dev_server = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://"), relay=False).openapi(), config=QUERY_CONFIG
).include(tag="journeys")
# A segment's definition (and a broadcast's segment, product and templates) names the
# server's products, declared attributes, segments and templates, which no schema can
# spell: a body the schema allows may still be a 422 that says which name is unknown.
on_segments = (
    schemathesis.openapi.from_dict(
        create_app(Settings(database_url="sqlite://"), relay=False).openapi(), config=QUERY_CONFIG
    )
    .include(tag="segments")
    .include(tag="broadcasts")
)


@pytest.fixture
def app(env: WorkflowEnvironment, settings: Settings, store: Store) -> FastAPI:
    settings.temporal_address = env.client.service_client.config.target_host
    return create_app(settings, relay=False)


@pytest.fixture
def key(store: Store) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(store, 'fuzz', ['ingest', 'admin'])}"}


@pytest.fixture
def stack_app(stack: Stack) -> tuple[FastAPI, dict[str, str]]:
    key = create_api_key(stack.store, "fuzz", ["admin"])
    return create_app(stack.settings, relay=False), {"Authorization": f"Bearer {key}"}


def test_the_schema_covers_the_api() -> None:
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    assert len(results) >= 10
    split = sum(
        len(list(part.get_all_operations()))
        for part in (on_test_server, on_dev_server, on_segments)
    )
    assert split == len(results)


# Every phase (examples, coverage, fuzzing), positive and negative data, every check (no
# `checks=`: all are on by default). 40 examples per operation keeps the file near 20 s on
# our 2 cores and still found each mismatch fixed so far.
@on_test_server.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_schema_says(
    case: schemathesis.Case, app: FastAPI, key: dict[str, str]
) -> None:
    case.call_and_validate(headers=key, app=app)


@on_segments.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_segments_api_does_what_its_schema_says(
    case: schemathesis.Case, app: FastAPI, key: dict[str, str]
) -> None:
    case.call_and_validate(headers=key, app=app)


@on_dev_server.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_journeys_api_does_what_its_schema_says(
    case: schemathesis.Case, stack_app: tuple[FastAPI, dict[str, str]]
) -> None:
    app, key = stack_app
    case.call_and_validate(headers=key, app=app)
