"""The hand-off to sales, as LeadJourney runs it: the qualifying lead moves to mql, waits
for the day's capacity when there is a cap, is recorded and posted to the CRM beside the
journey; the owner is emailed, and reminded or the lead escalated when sales feedback
outlasts the SLA. A lead sales created itself starts in sales' hands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls, patches
from workflows.journey_base import JourneyBase

with workflow.unsafe.imports_passed_through():
    from activities.handoff import (
        HandoffActivities,
        HandoffInput,
        LeaveQueueInput,
        PostHandoffInput,
        SlotInput,
    )
    from activities.sales_mail import SalesMailActivities, SalesMailInput
    from nurture.journey import narrative, rules
    from nurture.journey.contract import PendingSalesMail
    from nurture.journey.lifecycle import NURTURING, SGL_ACTOR, SGL_REASON, SGL_START
    from nurture.mail.sales import SalesMailKind
    from nurture.schedule.send_window import in_business_hours, local_day
    from nurture.scoring.moments import interesting_moments


# Work beside the journey is bounded: a CRM or a provider that stays away never holds it.
CRM_BOUND = timedelta(days=3)  # a hand-off post, carried across continue-as-new
SALES_MAIL_BOUND = timedelta(days=1)


class HandOffToSales(JourneyBase):
    """The hand-off and everything sales is told; `LeadJourney` decides when to ask."""

    async def _maybe_hand_off(self) -> bool:
        """Hand the lead to sales when it qualifies; True when the hand-off rule took over."""
        m = self._mem
        if m.handoff_queued:
            return await self._queued_hand_off()
        if m.lifecycle not in NURTURING:
            return False
        reason = rules.handoff_reason(self._scenario, self._score, m)
        if reason is None:
            return False
        m.handoffs += 1
        if self._capacity_limited():
            m.handoff_queued, m.queued_from = True, m.lifecycle
            # waiting hand-offs ask hourly in business hours (before: 00:01 every day)
            m.queue_in_business_hours = self._version(patches.HANDOFF_CAPACITY_BUSINESS_HOURS)
            await self._set_lifecycle("mql", actor="journey", reason=reason)
            return await self._queued_hand_off()
        await self._set_lifecycle("mql", actor="journey", reason=reason)
        await self._deliver_hand_off(reason)
        return True

    def _capacity_limited(self) -> bool:
        return self._scenario.handoff.daily_capacity is not None and self._version(
            patches.HANDOFF_CAPACITY
        )

    async def _queued_hand_off(self) -> bool:
        """Waiting for sales capacity: ask for today's slot with the current score; leave the
        queue (back to nurturing) when the lead no longer qualifies."""
        m = self._mem
        capacity = self._scenario.handoff.daily_capacity
        assert capacity is not None
        if workflow.now() >= self._exit_deadline:
            return True  # too old to hand off now: the run loop ends the journey
        reason = rules.handoff_reason(self._scenario, self._score, m)
        if (
            reason is not None
            and m.queue_in_business_hours
            and not in_business_hours(workflow.now(), self._scenario.send_window)
        ):
            return True  # capacity is a business day's: ask when the window opens
        if reason is None:
            back = m.queued_from or "nurturing"
            await self._leave_queue()
            why = (
                f"score {self._score.total} fell below {self._scenario.handoff_threshold} "
                "while waiting for sales capacity"
            )
            await self._set_lifecycle(back, actor="journey", reason=why)
            return False
        slot = await calls.local(
            HandoffActivities.request_handoff_slot,
            SlotInput(
                journey_id=self._id,
                handoff_no=m.handoffs,
                product=self._input.product,
                score=self._score.total,
                day=local_day(workflow.now(), self._scenario.send_window),
                capacity=capacity,
            ),
            summary=f"ask for a hand-off slot ({capacity}/day, score {self._score.total})",
        )
        if not slot.granted:
            if slot.position != m.handoff_position:
                self._note(
                    "handoff",
                    f"waiting for sales capacity ({capacity}/day): #{slot.position} in the queue",
                )
            m.handoff_position = slot.position
            return True
        if m.lifecycle != "mql" or m.ended_reason is not None:
            await self._leave_queue(release=True)  # unsubscribed meanwhile: the slot goes back
            return True
        m.handoff_queued, m.queued_from, m.handoff_position = False, None, None
        await self._deliver_hand_off(reason)
        return True

    async def _leave_queue(self, *, release: bool = False) -> None:
        """Give up the place in the hand-off queue, so it cannot block the leads behind
        (`release`: a slot granted to a hand-off that did not happen goes back too)."""
        m = self._mem
        await calls.local(
            HandoffActivities.leave_handoff_queue,
            LeaveQueueInput(journey_id=self._id, handoff_no=m.handoffs, release=release),
            summary="leave the hand-off queue",
        )
        m.handoff_queued, m.queued_from, m.handoff_position = False, None, None

    async def _deliver_hand_off(self, reason: str) -> None:
        """Record the hand-off, move to handed_off, and post it to the CRM in the background."""
        m = self._mem
        handoff_no = m.handoffs
        result = await calls.local(
            HandoffActivities.hand_off,
            HandoffInput(
                journey_id=self._id,
                lead_id=self._input.lead_id,
                product=self._input.product,
                handoff_no=handoff_no,
                score=self._score,
                moments=self._moments(),
                journey_time=workflow.now(),
                owners=self._scenario.handoff.owners,
            ),
            summary=f"hand off to sales (score {self._score.total})",
        )
        m.handoff_owner = result.owner
        if m.lifecycle != "mql":
            return  # unsubscribed or disqualified while the hand-off was recorded
        self._note("handoff", f"handed to sales (#{handoff_no}, {reason})")
        await self._set_lifecycle("handed_off", actor="journey", reason=reason)
        if result.webhook_status == "pending":
            self._beside(self._post_handoff(result.handoff_id))
        self._tell_owner(handoff_no)

    async def _post_handoff(self, handoff_id: int) -> None:
        """Deliver the hand-off to the CRM beside the journey: a slow CRM blocks nothing.
        Kept in memory until it ends, so a run that continues as new posts it again (the
        CRM sees the same Idempotency-Key)."""
        m = self._mem
        if handoff_id not in m.pending_posts:
            m.pending_posts.append(handoff_id)
        try:
            await calls.bounded(
                HandoffActivities.post_handoff,
                PostHandoffInput(handoff_id=handoff_id),
                bound=CRM_BOUND,
                summary=f"post hand-off #{handoff_id} to the CRM webhook",
            )
            self._note("handoff", f"hand-off #{handoff_id} delivered to the CRM webhook")
        except ActivityError as err:
            outlasted = CRM_BOUND if calls.outlasted(err) else None
            self._note("handoff", narrative.crm_refused(handoff_id, outlasted, err.cause or err))
        finally:
            if handoff_id in m.pending_posts:
                m.pending_posts.remove(handoff_id)

    def _resume_background(self) -> None:
        """A run continued as new picks up the posts, sales emails and stage records its
        previous run left on their way; each is idempotent (Idempotency-Key; one send row
        per notice; one stage row per move)."""
        m = self._mem
        for handoff_id in list(m.pending_posts):
            self._beside(self._post_handoff(handoff_id))
        for mail in list(m.pending_sales_mail):
            self._beside(
                self._notify_sales(mail.kind, mail.handoff_no, mail.to, mail.business_days)
            )
        for move in list(m.pending_stage_moves):
            self._beside(self._record_stage_move(move))

    async def _set_start_lifecycle(self) -> None:
        """Marketing's leads start nurturing; a lead sales created itself (SGL) starts in
        `sql`, sales' own move: no nurture email, no hand-off, feedback as usual."""
        if self._input.origin == "sales" and workflow.patched(patches.SGL):
            self._note("start", "sales-generated lead (SGL): sales owns it, no nurture email")
            await self._set_lifecycle(SGL_START, actor=SGL_ACTOR, reason=SGL_REASON)
        else:
            await self._set_lifecycle("nurturing", actor="journey", reason="journey started")

    def _moments(self) -> list[str]:
        """What sales should read first: the lead's recent behaviour, since its last recycling."""
        m = self._mem
        return interesting_moments(
            m.events,
            workflow.now(),
            self._score,
            event_types=self._scenario.scoring.events.keys(),
            timezone=self._sales_timezone,
            since=m.discount.before if m.discount else None,
        )

    def _tell_owner(self, handoff_no: int) -> None:
        """The lead reached sales: email the owner beside the journey and start the SLA clock.
        Nothing happens for a scenario without `handoff.owner` (journeys before it existed)."""
        m = self._mem
        owner = self._owner()
        slack = self._scenario.handoff.notify.slack
        if (owner is None and slack is None) or not self._version(patches.SALES_MAIL):
            return
        m.handed_off_at = workflow.now()
        m.sla_notices = 0
        self._beside(self._notify_sales("handoff", handoff_no, owner or "", 0))

    def _owner(self) -> str | None:
        """The hand-off's owner: the scenario's one, or whom `owners` assigned it to."""
        return self._mem.handoff_owner or self._scenario.handoff.owner

    def _sla_wake_up(self, wake_at: datetime, summary: str) -> tuple[datetime, str]:
        """Wake for the SLA email if it is due before `wake_at`; feedback wakes the journey
        first, and the lifecycle it changes cancels the email."""
        planned = self._next_sla_notice()
        if planned is None or planned[0] > wake_at:
            return wake_at, summary
        due, notice = planned
        return due, narrative.sla_wait(due, notice)

    def _send_due_sla_notice(self, now: datetime) -> bool:
        """Send the reminder or escalation that is due, beside the journey; once per
        hand-off each (counted before the activity starts, so the loop never repeats it)."""
        planned = self._next_sla_notice()
        sla = self._scenario.handoff.sla
        owner = self._owner()
        if planned is None or planned[0] > now or sla is None or owner is None:
            return False
        m = self._mem
        m.sla_notices += 1
        notice = planned[1]
        days = sla.business_days * m.sla_notices
        to = owner if notice == "remind" else sla.escalate_to
        assert to is not None
        self._note("handoff", narrative.sla_overdue(days, m.handoffs, notice))
        self._beside(self._notify_sales(notice, m.handoffs, to, days))
        return True

    async def _notify_sales(
        self, kind: SalesMailKind, handoff_no: int, to: str, business_days: int
    ) -> None:
        """Email our sales team (ids only: the activity reads the lead from the store);
        retried until the provider accepts it, noted in the timeline either way."""
        slack = self._scenario.handoff.notify.slack
        what, done = narrative.sales_mail(kind, handoff_no, business_days, slack is not None)
        pending = PendingSalesMail(
            kind=kind, handoff_no=handoff_no, to=to, business_days=business_days
        )
        pending_mail = self._mem.pending_sales_mail
        if pending not in pending_mail:
            pending_mail.append(pending)
        try:
            result = await calls.bounded(
                SalesMailActivities.notify_sales,
                SalesMailInput(
                    brand=self._scenario.brand,
                    journey_id=self._id,
                    lead_id=self._input.lead_id,
                    handoff_no=handoff_no,
                    kind=kind,
                    to=to,
                    business_days=business_days,
                    timezone=self._sales_timezone,
                    journey_time=workflow.now(),
                    slack_channel=slack.channel if slack else None,
                ),
                bound=SALES_MAIL_BOUND,
                summary=what,
            )
        except ActivityError as err:
            self._note("handoff", f"could not {what}: {err.cause or err}")
            return
        finally:
            if pending in pending_mail:
                pending_mail.remove(pending)
        if result.status in ("suppressed", "uncertain"):
            self._note("handoff", f"did not {what}: {result.detail}")
        elif result.status == "partly sent":
            self._note("handoff", f"{done}, except {result.detail}")
        else:
            self._note("handoff", done)
