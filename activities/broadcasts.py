"""What a broadcast asks of the store and of Temporal: its frozen recipient list, and
handing the broadcast to each recipient's journey (its running `LeadJourney`, else a
short-lived `BroadcastJourney`), once per lead."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nurture.broadcasts.contract import (
    JOURNEY_WORKFLOW_TYPE,
    UPDATE_NAME,
    BroadcastAnswer,
    BroadcastDelivery,
    BroadcastJourneyInput,
    HandOutcome,
    HandOverInput,
    HandOverResult,
    broadcast_journey_id,
)
from nurture.broadcasts.records import (
    Recipient,
    delivery_of,
    freeze_recipients,
    get_broadcast,
    recipients_between,
    record_handover,
    set_state,
)
from nurture.config import Settings
from nurture.journey.carry_over import last_lifecycle
from nurture.journey.contract import journey_id
from nurture.journey.lifecycle import SALES_OWNED
from nurture.segments.membership import segment_book
from nurture.store.engine import Store
from nurture.store.models import Broadcast, Lead, utcnow

CONCURRENT_HANDS = 8
# A journey that cannot take the broadcast (still starting, or stuck) is asked again with
# the batch's retries; after this many attempts it is recorded `failed`, and the broadcast
# goes on: one stuck lead must not hold the others.
HAND_ATTEMPTS = 5
ANSWER_WITHIN = 60.0  # a journey mid-send answers once the send is done
HEARTBEAT_EVERY = 1.0


class BroadcastPlan(BaseModel):
    recipients: int
    send_at: datetime
    local_time: bool


class StateInput(BaseModel):
    broadcast_id: str
    state: str


class BroadcastActivities:
    def __init__(self, client: Client, store: Store, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    @activity.defn(name="plan_broadcast")
    def plan_broadcast(self, broadcast_id: str) -> BroadcastPlan:
        """Freeze the recipient list (once: `nurture broadcast schedule` may have) and say
        when the broadcast goes; one without a time goes now."""
        book = segment_book(self.settings.scenarios_dir, self.store)
        recipients = freeze_recipients(self.store, broadcast_id, book, utcnow())
        row = get_broadcast(self.store, broadcast_id)
        if row.send_at is None:
            row.send_at = _fix_send_time(self.store, broadcast_id)
        return BroadcastPlan(recipients=recipients, send_at=row.send_at, local_time=row.local_time)

    @activity.defn(name="set_broadcast_state")
    def set_broadcast_state(self, input: StateInput) -> None:
        set_state(self.store, input.broadcast_id, input.state)

    @activity.defn(name="hand_over_broadcast")
    async def hand_over(self, input: HandOverInput) -> HandOverResult:
        """Hand the broadcast to recipients `from_seq`..`to_seq` not handed yet. Each
        hand-over is recorded as it is made, so a retry (a worker killed mid-batch) hands
        over only the rest; a journey handed it twice answers `already`."""
        row = await asyncio.to_thread(get_broadcast, self.store, input.broadcast_id)
        delivery = delivery_of(row, utcnow())
        todo = [
            r
            for r in await asyncio.to_thread(
                recipients_between, self.store, input.broadcast_id, input.from_seq, input.to_seq
            )
            if r.outcome is None
        ]
        gate = asyncio.Semaphore(CONCURRENT_HANDS)
        retry_later: list[str] = []
        gave_up: list[tuple[str, str]] = []
        seqs = {r.lead_id: r.seq for r in todo}

        async def one(recipient: Recipient) -> None:
            async with gate:
                try:
                    outcome, handed_to, detail = await asyncio.wait_for(
                        self._hand(row, delivery, recipient), ANSWER_WITHIN
                    )
                except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, _NotYet) as err:
                    why = str(err) or "no answer in time"
                    retry_later.append(f"{recipient.lead_id}: {why}")
                    gave_up.append((recipient.lead_id, why))
                    return
                await asyncio.to_thread(
                    record_handover, self.store, row.id, recipient.seq,
                    outcome=outcome, handed_to=handed_to, detail=detail,
                )  # fmt: skip

        beat = asyncio.create_task(_heartbeat())
        try:
            await asyncio.gather(*(one(r) for r in todo))
        finally:
            beat.cancel()
        for lead_id, why in gave_up if activity.info().attempt >= HAND_ATTEMPTS else []:
            await asyncio.to_thread(
                record_handover, self.store, row.id, seqs[lead_id], outcome="failed",
                handed_to="", detail=f"not taken after {HAND_ATTEMPTS} attempts: {why}",
            )  # fmt: skip
        if retry_later and activity.info().attempt < HAND_ATTEMPTS:
            # the recorded ones are not handed again on the retry
            raise ApplicationError(
                f"{len(retry_later)} journeys could not take the broadcast yet, e.g. "
                f"{retry_later[0]}; retrying them",
                type="BroadcastNotTaken",
            )
        # The whole range as recorded, counting what an earlier (killed) attempt handed over
        done = await asyncio.to_thread(
            recipients_between, self.store, input.broadcast_id, input.from_seq, input.to_seq
        )
        return HandOverResult(counts=dict(Counter(r.outcome or "waiting" for r in done)))

    async def _hand(
        self, row: Broadcast, delivery: BroadcastDelivery, recipient: Recipient
    ) -> tuple[HandOutcome, str, str]:
        lead_journey = journey_id(row.product, recipient.lead_id)
        try:
            answer = await self.client.get_workflow_handle(lead_journey).execute_update(
                UPDATE_NAME,
                delivery,
                id=f"broadcast:{row.id}",
                result_type=BroadcastAnswer,
            )
        except WorkflowUpdateFailedError as err:  # still starting: the retry asks again
            raise _NotYet(str(err.cause or err)) from None
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # no running journey: a short one
                raise
            return await self._short_journey(row, delivery, recipient)
        outcome: HandOutcome = "journey" if answer.outcome == "queued" else answer.outcome
        detail = f"due {answer.due:%Y-%m-%d %H:%M} UTC" if answer.due else answer.detail
        return outcome, lead_journey, detail

    def _closed_lifecycle(self, product: str, lead_id: str) -> str | None:
        """Where the lead's closed journey of the product (if any) left it."""
        with self.store.session() as session:
            return last_lifecycle(session, journey_id(product, lead_id))

    async def _short_journey(
        self, row: Broadcast, delivery: BroadcastDelivery, recipient: Recipient
    ) -> tuple[HandOutcome, str, str]:
        workflow_id = broadcast_journey_id(row.id, recipient.lead_id)
        closed = await asyncio.to_thread(self._closed_lifecycle, row.product, recipient.lead_id)
        if closed in SALES_OWNED or closed == "disqualified":  # as a running journey skips
            return "skipped", "", f"its journey closed with the lead {closed}"
        lead = await asyncio.to_thread(self.store.get_lead, recipient.lead_id)
        timezone = lead.timezone if isinstance(lead, Lead) else None
        try:
            await self.client.start_workflow(
                JOURNEY_WORKFLOW_TYPE,
                BroadcastJourneyInput(
                    product=row.product,
                    lead_id=recipient.lead_id,
                    delivery=delivery,
                    timezone=timezone,
                ),
                id=workflow_id,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:  # an earlier attempt started it
            return "broadcast_journey", workflow_id, "started by an earlier attempt"
        return "broadcast_journey", workflow_id, "no running journey: a broadcast journey"


class _NotYet(Exception):
    """A journey that cannot take the broadcast right now (still starting)."""


def _fix_send_time(store: Store, broadcast_id: str) -> datetime:
    """A broadcast without a time goes now; kept, so a retry hands over the same time."""
    with store.session() as session:
        row = session.get(Broadcast, broadcast_id, with_for_update=True)
        assert row is not None
        if row.send_at is None:
            row.send_at = utcnow()
        return row.send_at


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)
