"""The journey's search attributes: how operators find leads in the Temporal UI.

Values are categories and numbers only, never personal data.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.service import RPCError, RPCStatusCode

PRODUCT = SearchAttributeKey.for_keyword("NurtureProduct")
STAGE = SearchAttributeKey.for_keyword("LeadStage")
LIFECYCLE = SearchAttributeKey.for_keyword("LeadLifecycle")
TRACK = SearchAttributeKey.for_keyword("NurtureTrack")
SCENARIO_VERSION = SearchAttributeKey.for_keyword("ScenarioVersion")
SCORE = SearchAttributeKey.for_int("LeadScore")
NEXT_TOUCH = SearchAttributeKey.for_datetime("NextTouchAt")
ALL = (PRODUCT, STAGE, LIFECYCLE, TRACK, SCENARIO_VERSION, SCORE, NEXT_TOUCH)

_TYPES = {
    PRODUCT.name: ("Keyword", IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
    STAGE.name: ("Keyword", IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
    LIFECYCLE.name: ("Keyword", IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
    TRACK.name: ("Keyword", IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
    SCENARIO_VERSION.name: ("Keyword", IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD),
    SCORE.name: ("Int", IndexedValueType.INDEXED_VALUE_TYPE_INT),
    NEXT_TOUCH.name: ("Datetime", IndexedValueType.INDEXED_VALUE_TYPE_DATETIME),
}


def wanted_types() -> dict[str, tuple[str, int]]:
    """Each attribute's name → (type name, indexed value type) journeys write."""
    return dict(_TYPES)


def create_commands(namespace: str, names: list[str]) -> list[str]:
    """The Temporal CLI commands that register `names` in `namespace`."""
    return [
        f"temporal operator search-attribute create --namespace {namespace} --name {name} "
        f"--type {_TYPES[name][0]}"
        for name in names
    ]


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every attribute at boot."""
    flags = []
    for name, (kind, _) in _TYPES.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags


async def register(client: Client) -> None:
    """Add any missing attribute through the operator service (the test server needs this)."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()  # the time-skipping test server only implements "add"
    missing = {name: value for name, (_, value) in _TYPES.items() if name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )


def changed(values: dict[str, object], published: dict[str, object]) -> list[SearchAttributeUpdate]:
    """The upserts that bring the server's attributes to `values`, noting them in
    `published`: unchanged ones are skipped, and a None the server never had is no upsert
    (one upsert per change keeps histories short)."""
    updates: list[SearchAttributeUpdate] = []
    for key in ALL:
        value = values[key.name]
        if key.name in published and published[key.name] == value:
            continue
        if value is None:
            if key.name not in published:
                published[key.name] = None
                continue
            updates.append(key.value_unset())
        else:
            updates.append(key.value_set(value))  # type: ignore[arg-type]
        published[key.name] = value
    return updates
