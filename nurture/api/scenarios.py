"""The scenarios as the API sees them: every product's current one, re-read every few
seconds, with the tracker rules of older versions journeys still run; and what they declare
of leads (the attribute catalog)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fastapi import HTTPException, Request

from nurture.leads.attributes import AttributeCatalog, AttributeValue
from nurture.rollout.live import LiveVersions
from nurture.scenario.attribute_checks import declared_attributes
from nurture.scenario.live_rules import with_live_rules
from nurture.scenario.loader import valid_scenarios
from nurture.scenario.model import Scenario

SCENARIO_TTL = 5.0


async def current_scenarios(request: Request) -> list[Scenario]:
    """Every product's scenario (for page rules and what to keep of events), re-read at
    most every few seconds, with the tracker rules of its older versions that journeys still
    run (`nurture rollout` has not moved them all yet)."""
    state = request.app.state
    cached = getattr(state, "scenarios", None)
    if cached is not None and time.monotonic() - cached[0] < SCENARIO_TTL:
        return list(cached[1])
    scenarios = await asyncio.to_thread(_read_scenarios, state.settings.scenarios_dir)
    live: LiveVersions = state.live_versions
    scenarios = [with_live_rules(s, await live.of(s)) for s in scenarios]
    state.scenarios = (time.monotonic(), scenarios)
    return scenarios


def _read_scenarios(root: Path) -> list[Scenario]:
    return valid_scenarios(root)  # a broken scenario maps no pages; `nurture validate` says why


async def attribute_catalog(request: Request) -> AttributeCatalog:
    """Every custom attribute the current scenarios declare."""
    return declared_attributes(await current_scenarios(request))


async def checked_attributes(
    request: Request, values: dict[str, AttributeValue | None]
) -> dict[str, AttributeValue | None]:
    """The attributes as the scenarios declare them, or 422 naming what is wrong."""
    try:
        return (await attribute_catalog(request)).check(values)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
