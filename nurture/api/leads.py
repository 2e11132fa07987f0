"""Leads: upsert and start journeys; read a lead with its journeys' live state; sales feedback."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from nurture.api.auth import require
from nurture.api.errors import temporal_down
from nurture.api.lead_profiles import tell_journeys
from nurture.api.limits import FEEDBACK_BYTES, LEAD_BATCH_BYTES, LEAD_BYTES, max_body
from nurture.api.scenarios import checked_attributes
from nurture.journey.client import give_feedback, journey_state, start_journey
from nurture.journey.contract import (
    LEAD_ID_PATTERN,
    JourneyState,
    Origin,
    SalesFeedback,
    journey_id,
)
from nurture.journey.lifecycle import FeedbackOutcome
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import ScenarioError, has_scenario
from nurture.store.engine import LeadConflict, LeadFields, LeadIn, Store, profile_of
from nurture.store.event_log import identify
from nurture.store.models import Journey, Lead

router = APIRouter(tags=["leads"])
log = logging.getLogger("nurture.api.leads")
Product = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="a slug")]
# What `journey_id` accepts: an opaque id, never an email address (it has no '@').
LeadId = Annotated[str, Path(pattern=LEAD_ID_PATTERN.pattern, description="a Nurture lead id")]


class LeadRequest(LeadIn):
    """A lead, and the products whose journeys it should be in."""

    products: list[Product] = Field(default_factory=list, max_length=20)
    origin: Origin = Field(
        default="marketing",
        description="'sales' for a lead sales created itself (SGL): its journeys start in "
        "`sql`, owned by sales, with no nurture email (a journey that exists is left as it is)",
    )


class JourneyStart(BaseModel):
    journey_id: str
    started: bool
    message: str


class LeadResponse(BaseModel):
    lead_id: str
    created: bool
    journeys: list[JourneyStart]


class LeadPatch(LeadFields):
    """The fields of a stored lead to change; every field left out is kept, and so is every
    attribute left out of `attributes` (null clears one). The email, external id and
    consent change through POST /v1/leads (by the external id, for an email)."""


class LeadView(BaseModel):
    lead_id: str
    external_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    source: str | None
    owner: str | None
    profile: LeadProfile
    journeys: dict[str, JourneyState | str]


class FeedbackRequest(BaseModel):
    product: Product
    outcome: FeedbackOutcome
    reason: str = Field(default="", max_length=2000)
    by: str = Field(default="sales", max_length=200)


@router.post("/leads", dependencies=[Depends(require("leads")), Depends(max_body(LEAD_BYTES))])
async def upsert_lead(body: LeadRequest, request: Request) -> LeadResponse:
    """Idempotent: repeating the call neither duplicates the lead nor restarts a journey.
    503 when Temporal is down: the lead is stored; repeat the call to start its journeys."""
    await _check_attributes(request, [body], batch=False)
    return await _upsert(request, body)


@router.post(
    "/leads/batch",
    dependencies=[Depends(require("leads")), Depends(max_body(LEAD_BATCH_BYTES))],
)
async def upsert_leads(body: list[LeadRequest], request: Request) -> list[LeadResponse]:
    if len(body) > 500:
        raise HTTPException(413, f"{len(body)} leads in one call; send at most 500")
    await _check_attributes(request, body, batch=True)
    return [await _upsert(request, item) for item in body]


async def _check_attributes(request: Request, leads: list[LeadRequest], *, batch: bool) -> None:
    """Every lead's attributes as the scenarios declare them, before any lead is stored: a
    422 (naming the lead's place in a batch) stores nothing."""
    for i, lead in enumerate(leads):
        if lead.attributes:
            try:
                lead.attributes = await checked_attributes(request, lead.attributes)
            except HTTPException as err:
                where = f"{i}." if batch else ""
                raise HTTPException(422, f"{where}{err.detail}") from None


async def _upsert(request: Request, body: LeadRequest) -> LeadResponse:
    store: Store = request.app.state.store
    _products_exist(request, body.products)
    data = LeadIn.model_validate(
        body.model_dump(exclude={"products", "origin"}, exclude_unset=True)
    )
    try:
        lead, created = await asyncio.to_thread(store.upsert_lead, data)
    except LeadConflict as err:
        raise HTTPException(409, str(err)) from None
    if not created:
        await tell_journeys(request, lead)
    starts = []
    for product in body.products:
        try:
            client = await request.app.state.temporal.client()
            outcome = await start_journey(
                client, request.app.state.settings, store, lead, product, body.origin
            )
        except ScenarioError as err:  # the files' paths stay on the server
            raise HTTPException(422, f"product {product!r}: {err.problems[0].message}") from None
        except (RPCError, TimeoutError, RuntimeError) as err:
            raise temporal_down(err, f"lead {lead.id} stored, but ") from None
        starts.append(JourneyStart(**outcome.__dict__))
    if lead.external_id and starts:
        # What the tracker sent under this userId before the lead existed reaches its journeys.
        await asyncio.to_thread(identify, store, f"user:{lead.external_id}", lead.id)
    return LeadResponse(lead_id=lead.id, created=created, journeys=starts)


@router.patch(
    "/leads/{lead_id}", dependencies=[Depends(require("leads")), Depends(max_body(LEAD_BYTES))]
)
async def patch_lead(lead_id: LeadId, body: LeadPatch, request: Request) -> LeadView:
    """Change a lead's profile or custom attributes; its running journeys learn of it at
    once (a `profile` signal: rescored, conditions on the lead judged anew). 503 when
    Temporal is down: the change is stored; repeat the call so the journeys learn it."""
    store: Store = request.app.state.store
    values = body.model_dump(exclude_unset=True)
    if body.attributes:
        values["attributes"] = await checked_attributes(request, body.attributes)
    lead = await asyncio.to_thread(store.update_lead, lead_id, values)
    if lead is None:
        raise HTTPException(404, f"no lead {lead_id!r}")
    told = await tell_journeys(request, lead)
    return _view(lead, dict.fromkeys(told, "told of the change"))


def _products_exist(request: Request, products: list[str]) -> None:
    """404 before anything is stored: which products exist is the server's configuration,
    which no schema can list, so naming another is like asking for a missing resource."""
    root = request.app.state.settings.scenarios_dir
    for product in products:
        if not has_scenario(root, product):
            raise HTTPException(
                404, f"no scenario for product {product!r}: check the name, or add the scenario"
            )


@router.get("/leads/{lead_id}", dependencies=[Depends(require("read"))])
async def get_lead(lead_id: str, request: Request) -> LeadView:
    store: Store = request.app.state.store
    lead, products = await asyncio.to_thread(_lead_and_products, store, lead_id)
    states: dict[str, JourneyState | str] = {}
    for product in products:
        try:
            client = await request.app.state.temporal.client()
            states[product] = await journey_state(client, product, lead_id)
        except Exception as err:  # one journey's trouble must not hide the lead
            states[product] = f"state unavailable: {type(err).__name__}"
    return _view(lead, states)


def _view(lead: Lead, journeys: dict[str, JourneyState | str]) -> LeadView:
    return LeadView(
        lead_id=lead.id,
        external_id=lead.external_id,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        source=lead.source,
        owner=lead.owner,
        profile=profile_of(lead),
        journeys=journeys,
    )


@router.api_route(
    "/leads/{lead_id}",
    methods=["HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def other_methods(lead_id: str) -> None:
    """Starlette would answer these with the first route's `Allow: PATCH`, hiding the GET
    (`/leads/batch` has this path's shape too, and takes POST only)."""
    if lead_id == "batch":
        raise HTTPException(405, "the batch takes POST", {"Allow": "POST"})
    raise HTTPException(405, "a lead takes GET or PATCH", {"Allow": "GET, PATCH"})


def _lead_and_products(store: Store, lead_id: str) -> tuple[Lead, list[str]]:
    with store.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or lead.erased_at is not None:
            raise HTTPException(404, f"no lead {lead_id!r}")
        products = list(session.scalars(select(Journey.product).where(Journey.lead_id == lead_id)))
        return lead, sorted(products)


@router.post(
    "/leads/{lead_id}/feedback",
    dependencies=[Depends(require("feedback")), Depends(max_body(FEEDBACK_BYTES))],
)
async def feedback(lead_id: LeadId, body: FeedbackRequest, request: Request) -> JourneyState:
    """Sales feedback for one product's journey; 409 with the reason when it makes no sense
    for where the lead is (e.g. 'won' before it was accepted)."""
    try:
        journey_id(body.product, lead_id)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    try:
        client = await request.app.state.temporal.client()
        return await give_feedback(
            client,
            body.product,
            lead_id,
            SalesFeedback(outcome=body.outcome, reason=body.reason, by=body.by),
        )
    except WorkflowUpdateFailedError as err:
        raise HTTPException(409, str(err.cause or err)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, f"no running {body.product} journey for {lead_id}") from None
        raise temporal_down(err) from None
    except (OSError, TimeoutError, RuntimeError) as err:
        raise temporal_down(err) from None
