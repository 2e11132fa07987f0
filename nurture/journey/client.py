"""Starting journeys and talking to them from outside: the Python client functions.

Backend teams, `starter.py`, the CLI and the demo all go through here, so a
journey is started the same way everywhere: the lead is stored first, the
product's scenario is checked, and starting twice is a no-op that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nurture.config import Settings
from nurture.journey import search_attributes as sa
from nurture.journey.contract import (
    WORKFLOW_TYPE,
    JourneyInput,
    JourneyState,
    Origin,
    SalesFeedback,
    Unsubscribe,
    journey_id,
)
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import load_scenario
from nurture.sending import gate as send_gate
from nurture.store.engine import Store, find_or_insert, profile_of
from nurture.store.models import Journey, Lead, utcnow


def _remember(store: Store, workflow_id: str, lead_id: str, product: str) -> None:
    """Note the journey before starting it, so events accepted from now on are routed to it.
    A concurrent start may note it first."""

    def insert(session: Session) -> Journey:
        journey = Journey(workflow_id=workflow_id, lead_id=lead_id, product=product)
        session.add(journey)
        return journey

    find_or_insert(store, lambda session: session.get(Journey, workflow_id), insert)


@dataclass(frozen=True)
class StartOutcome:
    journey_id: str
    started: bool
    message: str


async def start_journey(
    client: Client,
    settings: Settings,
    store: Store,
    lead: Lead,
    product: str,
    origin: Origin = "marketing",
) -> StartOutcome:
    """Start `product`'s journey for a stored lead, unless one exists (running or closed).

    A closed journey is not restarted, and a lead suppressed for the product (unsubscribed,
    bounced, erased) gets none, even after Temporal has forgotten its closed journey: a list
    imported twice must not nurture again someone who said no. `origin="sales"` registers a
    lead sales found itself (SGL): its journey starts in `sql`, owned by sales.
    """
    load_scenario(settings.scenarios_dir, product)  # a broken scenario fails here, clearly
    workflow_id = journey_id(product, lead.id)
    with store.session() as session:
        stored = session.get(Lead, lead.id)
        reason = (
            "the lead was erased"
            if stored is None or stored.erased_at is not None
            else send_gate.suppression_reason(session, stored, product, None)
        )
    if reason:
        return StartOutcome(workflow_id, False, f"not started: {reason}")
    _remember(store, workflow_id, lead.id, product)
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            JourneyInput(product=product, lead_id=lead.id, profile=profile_of(lead), origin=origin),
            id=workflow_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.PRODUCT, product)]),
            static_summary=f"{product} journey of lead {lead.id}"
            + (" (sales-generated)" if origin == "sales" else ""),
        )
    except WorkflowAlreadyStartedError:
        _confirm(store, workflow_id)
        return StartOutcome(workflow_id, False, "journey already exists; nothing started")
    _confirm(store, workflow_id)
    return StartOutcome(workflow_id, True, "journey started")


def _confirm(store: Store, workflow_id: str) -> None:
    """Temporal has the journey: from now on 'not found' means it has closed."""
    with store.session() as session:
        session.execute(
            update(Journey)
            .where(Journey.workflow_id == workflow_id, Journey.confirmed_at.is_(None))
            .values(confirmed_at=utcnow())
        )


def handle(client: Client, product: str, lead_id: str) -> WorkflowHandle:
    return client.get_workflow_handle(journey_id(product, lead_id))


async def send_behavior(client: Client, product: str, lead_id: str, event: BehaviorEvent) -> None:
    await handle(client, product, lead_id).signal("behavior", event)


async def unsubscribe(
    client: Client, product: str, lead_id: str, request: Unsubscribe | None = None
) -> None:
    await handle(client, product, lead_id).signal("unsubscribe", request or Unsubscribe())


async def tell_profile(client: Client, product: str, lead_id: str, profile: LeadProfile) -> None:
    """A running journey learns the lead's new profile (a no-op when it is unchanged)."""
    await handle(client, product, lead_id).signal("profile", profile)


async def give_feedback(
    client: Client, product: str, lead_id: str, feedback: SalesFeedback
) -> JourneyState:
    return await handle(client, product, lead_id).execute_update(
        "sales_feedback", feedback, result_type=JourneyState
    )


async def journey_state(client: Client, product: str, lead_id: str) -> JourneyState:
    return await handle(client, product, lead_id).query("state", result_type=JourneyState)


async def _run_ids(client: Client, workflow_id: str) -> list[str]:
    """Every run of a journey (continue-as-new makes several; each holds lead data).
    Without visibility (the test server) only the latest run can be named: ''."""
    try:
        runs = [e.run_id async for e in client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        runs = []
    return runs or [""]


async def forget_journeys(client: Client, lead_id: str, products: list[str]) -> list[str]:
    """Terminate and delete the lead's journeys (their histories hold its events).

    Returns a line per journey found. A server that cannot delete (the time-skipping test
    server) keeps the terminated history until the namespace's retention ends; that is said.
    """
    forgotten = []
    for product in products:
        workflow_id = journey_id(product, lead_id)
        target = client.get_workflow_handle(workflow_id)
        try:
            await target.terminate("lead erased")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        try:
            for run_id in await _run_ids(client, workflow_id):
                await client.workflow_service.delete_workflow_execution(
                    DeleteWorkflowExecutionRequest(
                        namespace=client.namespace,
                        workflow_execution=WorkflowExecution(
                            workflow_id=workflow_id, run_id=run_id
                        ),
                    )
                )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            if err.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            forgotten.append(
                f"{workflow_id} (terminated; this server cannot delete histories: "
                "they expire with the namespace retention)"
            )
            continue
        forgotten.append(f"{workflow_id} (terminated; history deletion requested)")
    return forgotten
