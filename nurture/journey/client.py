"""Starting journeys and talking to them from outside: the Python client functions.

Backend teams, `starter.py`, the CLI and the demo all go through here, so a
journey is started the same way everywhere: the lead is stored first, the
product's scenario is checked, and starting twice is a no-op that says so. Starting a
journey that has closed starts a new run that carries its history
(nurture/journey/carry_over.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1.workflow_pb2 import WORKFLOW_EXECUTION_STATUS_RUNNING
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nurture.config import Settings
from nurture.journey import search_attributes as sa
from nurture.journey.carry_over import last_lifecycle
from nurture.journey.contract import (
    WORKFLOW_TYPE,
    JourneyInput,
    JourneyState,
    Origin,
    Restart,
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

# A journey that closed with the lead in these is not started again.
NOT_RESTARTED = frozenset({"customer", "disqualified"})


def _remember(store: Store, workflow_id: str, lead_id: str, product: str) -> bool:
    """Note the journey before starting it, so events accepted from now on are routed to it.
    A concurrent start may note it first. True when Temporal had it already (confirmed)."""

    def insert(session: Session) -> Journey:
        journey = Journey(workflow_id=workflow_id, lead_id=lead_id, product=product)
        session.add(journey)
        return journey

    journey, _ = find_or_insert(store, lambda session: session.get(Journey, workflow_id), insert)
    return journey.confirmed_at is not None


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
    """Start `product`'s journey for a stored lead, unless one is running.

    A closed journey is started again as a new run carrying its history (see
    `_closed_journey` for the ones that are not). A lead suppressed for the product
    (unsubscribed, bounced, erased) gets none, even after Temporal has forgotten its closed
    journey: a list imported twice must not nurture again someone who said no.
    `origin="sales"` registers a lead sales found itself (SGL): its journey starts in `sql`,
    owned by sales.
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
    restart = None
    if _remember(store, workflow_id, lead.id, product):  # Temporal had it: running or closed
        closed = await _closed_journey(client, store, workflow_id)
        if isinstance(closed, StartOutcome):
            return closed
        restart = closed
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            JourneyInput(
                product=product,
                lead_id=lead.id,
                profile=profile_of(lead),
                origin=origin,
                restart=restart,
            ),
            id=workflow_id,
            task_queue=settings.task_queue,
            # A closed journey is started again only after the checks above said so.
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if restart
                else WorkflowIDReusePolicy.REJECT_DUPLICATE
            ),
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.PRODUCT, product)]),
            static_summary=f"{product} journey of lead {lead.id}"
            + (" (sales-generated)" if origin == "sales" else "")
            + (" (restarted)" if restart else ""),
        )
    except WorkflowAlreadyStartedError:
        _confirm(store, workflow_id)
        return StartOutcome(workflow_id, False, "journey already exists; nothing started")
    _confirm(store, workflow_id)
    if restart is not None:
        return StartOutcome(workflow_id, True, "journey restarted: its earlier run had closed")
    return StartOutcome(workflow_id, True, "journey started")


async def _closed_journey(client: Client, store: Store, workflow_id: str) -> Restart | StartOutcome:
    """A journey Temporal had: still running (nothing to start), closed with the lead a
    customer or disqualified (not nurtured again: `on_customer` keeps nurturing customers),
    or closed otherwise (its time was up, an exit rule, a lost deal, a goal), which a new
    run restarts, carrying its history. A run Temporal has forgotten (past its retention)
    is closed too: the store says where it left the lead."""
    described = await latest_run(client, workflow_id)
    if described is not None and described.status == WORKFLOW_EXECUTION_STATUS_RUNNING:
        return StartOutcome(workflow_id, False, "journey already exists; nothing started")
    with store.session() as session:
        last = last_lifecycle(session, workflow_id)
    if last in NOT_RESTARTED:
        why = "; the scenario's on_customer nurtures customers" if last == "customer" else ""
        return StartOutcome(
            workflow_id, False, f"not started: its journey closed with the lead {last}{why}"
        )
    return Restart(closed_run_id=described.execution.run_id if described else None)


async def latest_run(client: Client, workflow_id: str) -> WorkflowExecutionInfo | None:
    """The workflow's latest run as the server describes it, or None when it has none. Read
    raw: the SDK's `describe()` also decodes search attributes, which some servers (the
    time-skipping test server) hand back in a form it cannot read."""
    try:
        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return None
    return described.workflow_execution_info


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


async def tell_journeys(client: Client, store: Store, lead: Lead) -> list[str]:
    """Every journey of the lead learns its profile as stored now (a new title, an
    attribute): it rescores and judges its conditions on the lead anew. A closed one is
    skipped; other errors (Temporal away) propagate. Returns the products told."""
    profile = profile_of(lead)
    told = []
    for product in journey_products(store, lead.id):
        try:
            await tell_profile(client, product, lead.id, profile)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        told.append(product)
    return told


def journey_products(store: Store, lead_id: str) -> list[str]:
    """The products the lead has a journey for (running or closed)."""
    with store.session() as session:
        found = session.scalars(select(Journey.product).where(Journey.lead_id == lead_id))
        return sorted(set(found))


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
