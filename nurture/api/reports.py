"""Reports over HTTP (`GET /v1/reports/...`, the `admin` scope): the same models as
`nurture report ... --json`, so a dashboard or a notebook reads what the CLI prints."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from nurture.analytics.ab_report import AbReport, build_ab_report
from nurture.analytics.attribution_report import AttributionReport, build_attribution_report
from nurture.analytics.engagement_report import EngagementReport, build_engagement_report
from nurture.analytics.funnel_report import FunnelReport, build_funnel_report
from nurture.analytics.holdout_report import HoldoutReport, build_holdout_report
from nurture.analytics.send_time_report import SendTimeReport, build_send_time_report
from nurture.api.auth import require
from nurture.api.timestamps import Timestamp
from nurture.scenario.loader import ScenarioError
from nurture.store.engine import Store
from nurture.suggestions.scoring_suggestion import (
    ScoringSuggestion,
    UnknownScenario,
    cached_suggestion,
)

router = APIRouter(tags=["reports"])
# The query parameters the reports share.
Product = Annotated[str | None, Query(max_length=64)]
SentSince = Annotated[
    Timestamp | None,
    Query(description="emails sent on or after this time (RFC 3339, with its zone)"),
]
SentUntil = Annotated[
    Timestamp | None, Query(description="emails sent before this time (default: now)")
]


@router.get("/reports/engagement", dependencies=[Depends(require("admin"))])
async def engagement(
    request: Request,
    product: Product = None,
    since: SentSince = None,
    until: SentUntil = None,
) -> EngagementReport:
    """Per product, track, step and variant: what the emails sent in the period achieved."""
    # until ≤ since is an empty period, answered with no rows (the schema cannot say more)
    store: Store = request.app.state.store
    return await asyncio.to_thread(
        build_engagement_report, store, product=product, since=since, until=until
    )


@router.get("/reports/ab", dependencies=[Depends(require("admin"))])
async def ab(
    request: Request,
    product: Product = None,
    since: SentSince = None,
    until: SentUntil = None,
) -> AbReport:
    """Every step with variants sent in the period, with its arms and its verdict."""
    store: Store = request.app.state.store
    scenarios = request.app.state.settings.scenarios_dir
    return await asyncio.to_thread(
        build_ab_report, store, scenarios, product=product, since=since, until=until
    )


@router.get("/reports/holdout", dependencies=[Depends(require("admin"))])
async def holdout(request: Request, product: Product = None) -> HoldoutReport:
    """What nurturing adds: each product's nurtured leads beside its control group."""
    store: Store = request.app.state.store
    scenarios = request.app.state.settings.scenarios_dir
    return await asyncio.to_thread(build_holdout_report, store, scenarios, product)


@router.get("/reports/funnel", dependencies=[Depends(require("admin"))])
async def funnel(
    request: Request,
    product: Product = None,
    since: Annotated[
        Timestamp | None, Query(description="journeys that entered a track from (RFC 3339)")
    ] = None,
    until: Annotated[Timestamp | None, Query(description="journeys that entered before")] = None,
) -> FunnelReport:
    """The funnel per track, and the stage flow week by week."""
    store: Store = request.app.state.store
    scenarios = request.app.state.settings.scenarios_dir
    return await asyncio.to_thread(
        build_funnel_report, store, scenarios, product=product, since=since, until=until
    )


@router.get("/reports/attribution", dependencies=[Depends(require("admin"))])
async def attribution(
    request: Request,
    product: Product = None,
    since: Annotated[
        Timestamp | None, Query(description="hand-offs and wins from (RFC 3339)")
    ] = None,
    until: Annotated[Timestamp | None, Query(description="hand-offs and wins before")] = None,
    window_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> AttributionReport:
    """What led to sales: the steps before hand-offs and wins, and the leads' sources."""
    store: Store = request.app.state.store
    return await asyncio.to_thread(
        build_attribution_report,
        store,
        product=product,
        since=since,
        until=until,
        window_days=window_days,
    )


@router.get("/reports/send-time", dependencies=[Depends(require("admin"))])
async def send_time(
    request: Request,
    product: Product = None,
    since: Annotated[Timestamp | None, Query(description="reads from (RFC 3339)")] = None,
    until: Annotated[Timestamp | None, Query(description="reads before")] = None,
) -> SendTimeReport:
    """When leads read, per role, beside the hour send-time optimisation chooses."""
    store: Store = request.app.state.store
    scenarios = request.app.state.settings.scenarios_dir
    return await asyncio.to_thread(
        build_send_time_report, store, scenarios, product=product, since=since, until=until
    )


@router.get(
    "/reports/scoring",
    dependencies=[Depends(require("admin"))],
    responses={
        404: {"description": "no scenario of that product"},
        422: {"description": "the product's scenario does not load"},
    },
)
async def scoring(
    request: Request,
    product: Annotated[str, Query(max_length=64, description="the product to learn for")],
    since: Annotated[
        Timestamp | None, Query(description="hand-offs made on or after this time (RFC 3339)")
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="hand-offs made before this time (default: now)")
    ] = None,
) -> ScoringSuggestion:
    """Rule points and a hand-off threshold learnt from the product's won and lost
    hand-offs, as `nurture suggest scoring PRODUCT --json` prints them; `status`
    `too_little_data` says how many decided hand-offs are missing."""
    store: Store = request.app.state.store
    scenarios = request.app.state.settings.scenarios_dir
    try:
        return await asyncio.to_thread(
            cached_suggestion, store, scenarios, product, since=since, until=until
        )
    except UnknownScenario as err:
        raise HTTPException(404, str(err.args[0])) from None
    except ScenarioError as err:
        raise HTTPException(
            422, f"the {product} scenario does not load ({err}): run `nurture validate`"
        ) from None
