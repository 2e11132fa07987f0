"""Broadcast: hand one broadcast to every lead of its frozen list, durably, at most once each.

Its first activity freezes the segment's leads into a numbered list in the store (done
already when `nurture broadcast schedule` showed the count). It waits until the send time
(for a local-time send, until the earliest time zone reaches it), then hands the broadcast
to the leads page by page at a bounded rate: each lead's running journey takes it in the
`broadcast` update and sends it at its time, through its gate; a lead with no running
journey gets a short-lived `BroadcastJourney`. Each hand-over is recorded as it is made,
so a retried batch (a worker killed mid-way) hands over only the rest, and the journeys
and the send rows refuse a second one.

Progress is its query `progress`, its card in the Temporal UI and `nurture broadcast
status`. The signals `pause` and `resume` hold it between batches; cancelling it stops it
(journeys handed it already still send it).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.broadcasts import (
        ANSWER_WITHIN,
        CONCURRENT_HANDS,
        BroadcastActivities,
        StateInput,
    )
    from nurture.broadcasts.contract import (
        WORKFLOW_TYPE,
        BroadcastInput,
        BroadcastProgress,
        HandOverInput,
    )

RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# Planning freezes the list with one INSERT … SELECT: a million leads take seconds.
PLAN_TIMEOUT = timedelta(minutes=10)
STATE_TIMEOUT = timedelta(seconds=30)
# The earliest time zone (UTC+14) reaches a local time this long before UTC does.
EARLIEST_ZONE = timedelta(hours=14)
HISTORY_LIMIT = 5_000


def batch_bound(leads: int) -> timedelta:
    """Long enough for every lead of a batch to take its whole answer time."""
    rounds = -(-leads // CONCURRENT_HANDS)
    return timedelta(seconds=rounds * ANSWER_WITHIN + 60)


@workflow.defn(name=WORKFLOW_TYPE)
class Broadcast:
    @workflow.init
    def __init__(self, input: BroadcastInput) -> None:
        self._input = input
        self._p = input.progress or BroadcastProgress()

    @workflow.run
    async def run(self, input: BroadcastInput) -> BroadcastProgress:
        p = self._p
        try:
            if input.progress is None:
                await self._plan()
            p.state = "paused" if p.paused else "sending"
            self._show()
            await self._state("sending")
            await self._hand_over()
        except BaseException as err:  # a cancel arrives as CancelledError or ActivityError
            if is_cancelled_exception(err):
                p.state = "cancelled"
                self._show()
                await self._state("cancelled")
            raise
        p.state = "finished"
        self._show()
        await self._state("finished")
        return p

    async def _plan(self) -> None:
        p = self._p
        p.state = "freezing"
        self._show()
        plan = await workflow.execute_activity_method(
            BroadcastActivities.plan_broadcast,
            self._input.broadcast_id,
            start_to_close_timeout=PLAN_TIMEOUT,
            retry_policy=RETRY,
            summary="freeze the recipient list",
        )
        p.recipients = plan.recipients
        start = plan.send_at - (EARLIEST_ZONE if plan.local_time else timedelta(0))
        p.state = "waiting"
        self._show()
        wait = start - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait, summary=f"wait until {start:%Y-%m-%d %H:%M} UTC")

    async def _hand_over(self) -> None:
        """Batches of one second's worth at `rate`, from where the last run stopped."""
        p, batch = self._p, max(1, int(self._input.rate))
        while p.next_seq <= p.recipients:
            await workflow.wait_condition(lambda: not p.paused)
            last = min(p.recipients, p.next_seq + batch - 1)
            began = workflow.now()
            result = await workflow.execute_activity_method(
                BroadcastActivities.hand_over,
                HandOverInput(
                    broadcast_id=self._input.broadcast_id, from_seq=p.next_seq, to_seq=last
                ),
                start_to_close_timeout=batch_bound(last - p.next_seq + 1),
                heartbeat_timeout=timedelta(seconds=self._input.heartbeat_seconds),
                retry_policy=RETRY,
                summary=f"hand over to leads {p.next_seq}–{last} of {p.recipients}",
            )
            self._count(result.counts)
            p.next_seq = last + 1
            self._show()
            rest = timedelta(seconds=batch / self._input.rate) - (workflow.now() - began)
            if rest > timedelta(0) and p.next_seq <= p.recipients:
                await workflow.sleep(rest, summary="hold the broadcast's rate")
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(self._input.model_copy(update={"progress": p}))

    def _count(self, counts: dict[str, int]) -> None:
        p = self._p
        p.to_journeys += counts.get("journey", 0) + counts.get("already", 0)
        p.to_broadcast_journeys += counts.get("broadcast_journey", 0)
        p.skipped += counts.get("skipped", 0)
        p.failed += counts.get("failed", 0)
        p.handed = p.to_journeys + p.to_broadcast_journeys + p.skipped + p.failed

    async def _state(self, state: str) -> None:
        await workflow.execute_activity_method(
            BroadcastActivities.set_broadcast_state,
            StateInput(broadcast_id=self._input.broadcast_id, state=state),
            start_to_close_timeout=STATE_TIMEOUT,
            retry_policy=RETRY,
            summary=f"broadcast {state}",
        )

    def _show(self) -> None:
        p = self._p
        workflow.set_current_details(
            f"**Broadcast {self._input.broadcast_id}**: {p.state}\n\n"
            f"{p.handed} of {p.recipients} handed over · {p.to_journeys} to their journeys · "
            f"{p.to_broadcast_journeys} to broadcast journeys · {p.skipped} skipped · "
            f"{p.failed} failed"
        )

    @workflow.query(name="progress")
    def progress(self) -> BroadcastProgress:
        return self._p

    @workflow.signal(name="pause")
    def pause(self) -> None:
        self._p.paused = True
        self._p.state = "paused"
        self._show()

    @workflow.signal(name="resume")
    def resume(self) -> None:
        self._p.paused = False
        self._p.state = "sending"
        self._show()
