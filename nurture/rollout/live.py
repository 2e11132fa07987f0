"""Which older versions of a product's scenario still have running journeys: their tracker
rules stay in force (nurture/scenario/live_rules.py) until no journey runs them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from nurture.journey.search_attributes import SCENARIO_VERSION
from nurture.rollout.queries import journeys_query
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pinned_scenario, pinned_versions
from nurture.store.engine import Store

log = logging.getLogger(__name__)
LIVE_TTL = 60.0  # seconds: how long the API trusts its last look


async def older_live_versions(client: Client, store: Store, current: Scenario) -> list[Scenario]:
    """The definitions of `current`'s product's other versions that journeys still run."""
    versions = await asyncio.to_thread(pinned_versions, store, current.product)
    live = []
    for version, _ in versions:
        if version == current.version:
            continue
        query = journeys_query(current.product) + f' AND {SCENARIO_VERSION.name} = "{version}"'
        if (await client.count_workflows(query)).count:
            found = await asyncio.to_thread(pinned_scenario, store, current.product, version)
            if found is not None:
                live.append(found)
    return live


class LiveVersions:
    """The API's view of the older live versions. A request never waits for Temporal: it
    gets the last view (at first: every version a journey loaded, so no journey loses a rule
    while Temporal is away), and a stale view is refreshed in the background, at most every
    LIVE_TTL."""

    def __init__(
        self, store: Store, client: Callable[[], Awaitable[Client]], ttl: float = LIVE_TTL
    ) -> None:
        self.store = store
        self.client = client
        self.ttl = ttl
        self._seen: dict[str, tuple[float, list[Scenario]]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def of(self, current: Scenario) -> list[Scenario]:
        key = f"{current.product}:{current.version}"
        cached = self._seen.get(key)
        if cached is None:
            cached = (0.0, await self._every_pinned(current))
            self._seen[key] = cached
        if time.monotonic() - cached[0] >= self.ttl and key not in self._refreshing:
            task = asyncio.create_task(self._refresh(key, current))
            self._refreshing[key] = task
            task.add_done_callback(lambda _: self._refreshing.pop(key, None))
        return cached[1]

    async def _refresh(self, key: str, current: Scenario) -> None:
        try:
            live = await older_live_versions(await self.client(), self.store, current)
        except Exception as err:  # Temporal away: the last view stands, asked again later
            log.warning("live scenario versions unknown: %s", type(err).__name__)
            live = self._seen[key][1]
        self._seen[key] = (time.monotonic(), live)

    async def _every_pinned(self, current: Scenario) -> list[Scenario]:
        versions = await asyncio.to_thread(pinned_versions, self.store, current.product)
        found = [
            await asyncio.to_thread(pinned_scenario, self.store, current.product, version)
            for version, _ in versions
            if version != current.version
        ]
        return [s for s in found if s is not None]
