"""LeadJourney: one lead, one product, one durable journey.

Sends the current track's step emails inside the send window, sleeps between
them in a way behaviour can interrupt, rescores on every event, fires trigger
emails, switches tracks, hands hot leads to sales and takes their feedback.
Deterministic: all time is `workflow.now()`, every side effect is an activity.
The decisions live in `nurture.journey.rules`, the wording in `nurture.journey.narrative`;
this class orchestrates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout

from workflows import calls, patches

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities, SendEmailInput, SendEmailResult
    from activities.handoff import (
        HandoffActivities,
        HandoffInput,
        LeaveQueueInput,
        PostHandoffInput,
        SlotInput,
    )
    from activities.sales_mail import SalesMailActivities, SalesMailInput
    from activities.scenario import LoadScenarioInput, ScenarioActivities
    from activities.suppression import SuppressionActivities, SuppressionInput
    from activities.transitions import TransitionActivities, TransitionInput
    from nurture.handoff.sla import SlaNotice, next_sla_notice
    from nurture.journey import narrative, rules
    from nurture.journey import search_attributes as sa
    from nurture.journey.contract import (
        TIMELINE_LENGTH,
        WORKFLOW_TYPE,
        JourneyInput,
        JourneyMemory,
        JourneyResult,
        JourneyState,
        PendingSalesMail,
        SalesFeedback,
        TimelineEntry,
        Unsubscribe,
        journey_id,
    )
    from nurture.journey.lifecycle import (
        NURTURING,
        SALES_OWNED,
        SGL_ACTOR,
        SGL_REASON,
        SGL_START,
        TERMINAL,
        Lifecycle,
        feedback_target,
    )
    from nurture.leads.events import DELIVERY_ENDING_TYPES, BehaviorEvent
    from nurture.mail.sales import SalesMailKind
    from nurture.scenario.durations import format_duration
    from nurture.scenario.model import TRACK_END, TRACK_LISTEN, MailType, Scenario, Step, Trigger
    from nurture.schedule.send_window import (
        in_business_hours,
        local_day,
        next_capacity_check,
        next_day_opens,
        next_send_time,
        open_hours,
    )
    from nurture.schedule.variants import assign_variant
    from nurture.scoring.moments import interesting_moments
    from nurture.scoring.score import (
        Discount,
        ScoreBreakdown,
        relevant_events,
        score_lead,
        stage_for,
    )

# Bounds on activity calls beyond the journey's own records (workflows/calls.py says why
# those have none): no outage may hold a journey forever.
SEND_BOUND = timedelta(minutes=3)  # then the step is deferred and the loop takes behaviour
CRM_BOUND = timedelta(days=3)  # a hand-off post beside the journey, carried across runs
SALES_MAIL_BOUND = timedelta(days=1)
MIN_WAIT = timedelta(seconds=1)
SALES_WAIT = timedelta(days=30)
MAX_TRACK_HOPS = 10
SEEN_IDS_KEPT = 2000


@workflow.defn(name=WORKFLOW_TYPE)
class LeadJourney:
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self._input = input
        self._id = journey_id(input.product, input.lead_id)
        self._m: JourneyMemory | None = input.memory
        self._inbox: list[BehaviorEvent] = list(input.pending_events)
        self._woken = False
        self._optimise_send_time = False
        self._score = ScoreBreakdown()
        self._background: list[asyncio.Task[None]] = []
        # Continue-as-new carries search attributes over: start from what the server has.
        carried = workflow.info().typed_search_attributes
        self._published: dict[str, object] = {
            key.name: carried.get(key) for key in sa.ALL if carried.get(key) is not None
        }

    # ---- the journey ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyResult:
        if self._m is None:
            await self._begin()
        else:
            self._m.runs += 1
            self._score = self._compute_score()
            self._resume_background()
        m = self._mem
        while m.ended_reason is None:
            if self._inbox:
                await self._process_inbox()
                continue
            if self._history_is_long():
                await self._continue_as_new()
            now = workflow.now()
            if (m.lifecycle in NURTURING or m.handoff_queued) and now >= self._exit_deadline:
                self._end(f"journey reached its maximum age ({self._exit_after})")
                break
            self._optimise_send_time = self._send_time_optimised()
            due = self._next_touch(now)
            if due is not None and due <= now:
                await self._send_step()
                continue
            await self._wait(now, due)
        if m.handoff_queued:  # ended while waiting for sales capacity (exit rule, age, ...)
            await self._leave_queue()
        await self._finish_background()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return JourneyResult(
            lifecycle=m.lifecycle,
            stage=m.stage,
            score=self._score.total,
            emails_sent=m.emails_sent,
            reason=m.ended_reason or "",
        )

    async def _begin(self) -> None:
        product = self._input.product
        scenario = await calls.local(
            ScenarioActivities.load_scenario,
            LoadScenarioInput(product=product),
            summary=f"load scenario '{product}'",
        )
        now = workflow.now()
        self._m = JourneyMemory(
            started_at=now, scenario=scenario, track=scenario.entry_track, step_anchor=now
        )
        self._note(
            "start",
            f"journey started on track '{scenario.entry_track}' (scenario {scenario.version})",
        )
        await self._set_start_lifecycle()
        await self._reevaluate(None)  # a lead whose fit alone makes it warm starts on that track

    async def _wait(self, now: datetime, due: datetime | None) -> None:
        """Sleep until the next touch, a decay-driven stage change, an SLA email, or exit;
        behaviour, feedback and commands wake it early."""
        if self._send_due_sla_notice(now):
            return
        wake_at, summary = self._next_wake_up(now, due)
        self._publish()
        self._woken = False
        try:
            await workflow.wait_condition(
                lambda: bool(self._inbox) or self._woken,
                timeout=max(wake_at - now, MIN_WAIT),
                timeout_summary=summary,
            )
        except TimeoutError:
            await self._reevaluate(None)

    def _next_wake_up(self, now: datetime, due: datetime | None) -> tuple[datetime, str]:
        """What the journey waits for next, and the timer's summary saying so."""
        m = self._mem
        if m.lifecycle in NURTURING:
            wake_at = self._exit_deadline
            summary = narrative.listen_until_exit(wake_at)
        elif m.handoff_queued:
            window = self._scenario.send_window
            wake_at = (
                next_capacity_check(now, window)
                if m.queue_in_business_hours
                else next_day_opens(now, window)
            )
            summary = narrative.wait_for_capacity(m.handoff_position, wake_at)
        else:
            wake_at = now + SALES_WAIT
            summary = narrative.sales_owns(m.lifecycle)
        if due is not None and due <= wake_at:
            wake_at, summary = due, self._step_wait_summary(due)
        wake_at, summary = self._sla_wake_up(wake_at, summary)
        stage_change = rules.next_stage_change(
            now,
            wake_at,
            m.stage,
            lambda at: stage_for(self._compute_score(at).total, self._scenario.stages),
        )
        if stage_change is not None:
            wake_at, summary = stage_change, narrative.decay(now, stage_change, m.stage)
        return wake_at, summary

    # ---- steps and tracks -------------------------------------------------------------

    def _current_step(self) -> Step | None:
        return rules.current_step(self._scenario, self._mem)

    def _next_touch(self, now: datetime) -> datetime | None:
        """When the next step email goes out, or None when nurture email is off."""
        m = self._mem
        step = self._current_step()
        if step is None or m.paused or m.email_stopped or m.lifecycle not in NURTURING:
            return None
        return next_send_time(
            rules.step_due(m, step, now),
            self._scenario.send_window,
            self._input.profile.timezone,
            self._send_hour(),
        )

    def _send_time_optimised(self) -> bool:
        """Whether this journey's steps go out at the lead's best hour. Called from the run
        loop only (a query must not add the version marker)."""
        window = self._scenario.send_window
        return bool(window and window.optimise_send_time) and self._version(
            patches.SEND_TIME_OPTIMISATION
        )

    def _send_hour(self) -> int | None:
        if not self._optimise_send_time:
            return None
        role_hour = self._scenario.role_send_hours.get(self._input.profile.role or "other")
        return rules.send_hour(self._scenario.send_window, self._mem.open_hours, role_hour)

    @property
    def _timezone(self) -> str:
        window = self._scenario.send_window
        return self._input.profile.timezone or (window.timezone if window else "UTC")

    def _step_wait_summary(self, due: datetime) -> str:
        step = self._current_step()
        assert step is not None
        return narrative.step_wait(self._mem, step, self._steps_on_track, due)

    @property
    def _steps_on_track(self) -> int:
        return len(self._scenario.tracks[self._mem.track].steps)

    async def _send_step(self) -> None:
        m = self._mem
        step = self._current_step()
        assert step is not None
        track = m.track
        key = f"{track}#{m.track_entries}/{step.key}"
        if step.mail_type in m.suppressed_mail_types:
            self._note("email", f"skipped step '{step.key}': lead opted out of {step.mail_type}")
        else:
            result = await self._send_email(
                key=key,
                mail_type=step.mail_type,
                variants=step.variants(),
                variant_key=f"{track}/{step.key}",
                what=narrative.step_what(m.step_index, self._steps_on_track, step.key, track),
            )
            if result is not None and result.status == "deferred":
                m.deferred_until = result.retry_at  # the weekly cap or an outage: same step
                return
        m.steps_sent.setdefault(track, []).append(step.key)
        if m.track != track:
            return  # sales feedback moved the lead while the email was going out
        m.step_index += 1
        m.step_anchor = workflow.now()
        self._clear_deferral()
        if self._current_step() is None:
            self._track_complete()

    def _clear_deferral(self) -> None:
        """A new step starts undeferred: no cap deferral, no outage clock of the last one."""
        m = self._mem
        m.deferred_until = m.deferred_why = m.step_unavailable_since = None
        m.step_unavailable_count = 0

    def _track_complete(self, hops: int = 0) -> None:
        then = self._scenario.tracks[self._mem.track].then
        if then == TRACK_END:
            self._end(f"track '{self._mem.track}' complete")
        elif then == TRACK_LISTEN or hops >= MAX_TRACK_HOPS:
            self._note("track", f"track '{self._mem.track}' complete; listening for behaviour")
        else:
            self._switch_track(then, f"track '{self._mem.track}' complete", hops + 1)

    def _switch_track(self, track: str, reason: str, hops: int = 0) -> None:
        """Enter `track` at its first step this lead has not had: no content is sent twice.
        A track this lead has had in full is complete at once, and its `then` applies."""
        m = self._mem
        self._note("track", f"track '{m.track}' → '{track}': {reason}")
        m.track = track
        m.track_entries += 1
        self._clear_deferral()
        steps = self._scenario.tracks[track].steps
        m.step_index = rules.first_unsent_step(steps, m.steps_sent.get(track, []))
        m.step_anchor = workflow.now()
        self._woken = True
        if m.step_index == len(steps):
            self._track_complete(hops)

    async def _send_email(
        self,
        *,
        key: str,
        mail_type: MailType,
        variants: list[tuple[str, str]],
        variant_key: str,
        what: str,
    ) -> SendEmailResult | None:
        m = self._mem
        variant = assign_variant(self._input.lead_id, self._input.product, variant_key,
                                 len(variants))  # fmt: skip
        letter = f"variant {narrative.variant_letter(variant)}" if len(variants) > 1 else ""
        try:
            result = await calls.bounded(
                EmailActivities.send_email,
                self._email_input(key, mail_type, variants[variant], variant),
                bound=SEND_BOUND,
                summary=f"send {what}" + (f" ({letter})" if letter else ""),
            )
        except ActivityError as err:
            if _outlasted(err) and mail_type != "trigger":
                return self._provider_unavailable(what, err)
            self._note("email", f"could not send {what}: {err.cause or err}")
            return None
        if result.status == "suppressed":
            self._note("email", f"not sent {what}: {result.detail}")
            return result
        if result.status == "deferred":
            assert result.retry_at is not None
            m.deferred_why = None  # the weekly cap (the step's summary says so)
            self._note(
                "email", f"deferred {what} to {result.retry_at:%Y-%m-%d %H:%M}: {result.detail}"
            )
            return result
        m.emails_sent += 1
        m.sent_ids.append(result.send_id)
        m.variants[key] = variant
        self._note("email", f"sent {what}" + (f", {letter}" if letter else ""))
        return result

    def _email_input(
        self, key: str, mail_type: MailType, chosen: tuple[str, str], variant: int
    ) -> SendEmailInput:
        m = self._mem
        subject, template = chosen
        return SendEmailInput(
            brand=self._scenario.brand,
            scenario_version=self._scenario.version,
            journey_id=self._id,
            lead_id=self._input.lead_id,
            product=self._input.product,
            send_key=key,
            mail_type=mail_type,
            template=template,
            subject=subject,
            variant=variant,
            journey_time=workflow.now(),
            journey={
                "stage": m.stage,
                "score": self._score.total,
                "track": m.track,
                "step": key,
                "lifecycle": m.lifecycle,
            },
        )

    def _provider_unavailable(self, what: str, err: ActivityError) -> SendEmailResult | None:
        """The provider stayed away for the whole send bound: defer the step with backoff
        (behaviour is handled meanwhile), and skip it once the outage outlasts the give-up
        bound. A trigger is not deferred: it is timely or pointless."""
        m = self._mem
        now = workflow.now()
        since = m.step_unavailable_since = m.step_unavailable_since or now
        last = err.cause.__cause__ if isinstance(err.cause, ActivityTimeout) else err.cause
        outage = rules.step_outage(since, m.step_unavailable_count, now)
        if outage.give_up:
            self._note("email", narrative.provider_gave_up(what, outage.lasted, last or err.cause))
            return None
        assert outage.retry_at is not None
        m.step_unavailable_count += 1
        detail = m.deferred_why = f"email provider unavailable ({last or err.cause})"
        self._note("email", f"deferred {what} to {outage.retry_at:%Y-%m-%d %H:%M}: {detail}")
        return SendEmailResult(
            send_id="", status="deferred", retry_at=outage.retry_at, detail=detail
        )

    # ---- behaviour --------------------------------------------------------------------

    async def _process_inbox(self) -> None:
        events, self._inbox = self._inbox, []
        m = self._mem
        for event in events:
            if m.ended_reason is not None:
                break
            if event.event_id in m.seen_event_ids:
                continue
            m.seen_event_ids.append(event.event_id)
            if rules.concerns_another_product(event, self._input.product):
                self._note("event", f"ignored {event.type}: it concerns '{event.product}'")
                continue
            m.events.append(event)
            self._note("event", narrative.describe(event))
            for hour, count in open_hours([event], self._timezone).items():
                m.open_hours[hour] = m.open_hours.get(hour, 0) + count
            if event.type in DELIVERY_ENDING_TYPES:
                await self._stop_email("bounced", actor="provider", reason=event.type)
                if m.ended_reason is not None:
                    break
                continue
            await self._reevaluate(event)

    async def _reevaluate(self, event: BehaviorEvent | None) -> None:
        """Rescore, then apply exit, hand-off, branch and trigger rules in that order."""
        m = self._mem
        scenario = self._scenario
        before = m.stage
        self._score = self._compute_score()
        m.stage = stage_for(self._score.total, scenario.stages)
        if m.stage != before:
            self._note("stage", f"{before} → {m.stage} (score {self._score.total})")
        exit_reason = rules.exit_reason(scenario, event, m.stage, before)
        if exit_reason is not None:
            self._end(exit_reason)
            return
        if await self._maybe_hand_off():
            return
        branch = rules.branch_to(scenario, event, m.stage, before, m.track)
        if branch is not None:
            self._switch_track(*branch)
        if event is not None:
            for trigger in scenario.triggers:
                if trigger.when.matches(event) and rules.trigger_allowed(
                    m, trigger, workflow.now()
                ):
                    await self._fire_trigger(trigger, event)

    async def _fire_trigger(self, trigger: Trigger, event: BehaviorEvent) -> None:
        m = self._mem
        count = m.trigger_counts.get(trigger.key, 0) + 1
        m.trigger_fired_at[trigger.key] = workflow.now()
        m.trigger_counts[trigger.key] = count
        self._note("trigger", f"trigger '{trigger.key}' fired by {event.type}")
        await self._send_email(
            key=f"trigger:{trigger.key}#{count}",
            mail_type="trigger",
            variants=trigger.variants(),
            variant_key=f"trigger:{trigger.key}",
            what=f"trigger '{trigger.key}' ← {event.type}",
        )

    def _compute_score(self, at: datetime | None = None) -> ScoreBreakdown:
        m = self._mem
        return score_lead(
            self._input.profile,
            m.events,
            at or workflow.now(),
            m.scenario,
            sent_ids=m.sent_ids,
            discount=m.discount,
        )

    # ---- hand-off and lifecycle -------------------------------------------------------

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
            why = (f"score {self._score.total} fell below {self._scenario.handoff_threshold} "
                   "while waiting for sales capacity")  # fmt: skip
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
                self._note("handoff", f"waiting for sales capacity ({capacity}/day): "
                                      f"#{slot.position} in the queue")  # fmt: skip
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
            ),
            summary=f"hand off to sales (score {self._score.total})",
        )
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
            outlasted = CRM_BOUND if _outlasted(err) else None
            self._note("handoff", narrative.crm_refused(handoff_id, outlasted, err.cause or err))
        finally:
            if handoff_id in m.pending_posts:
                m.pending_posts.remove(handoff_id)

    def _beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the journey (the CRM post, the owner's email)."""
        self._background.append(asyncio.create_task(work))

    def _resume_background(self) -> None:
        """A run continued as new picks up the posts and sales emails its previous run left
        on their way; both are idempotent (Idempotency-Key; one send row per notice)."""
        m = self._mem
        for handoff_id in list(m.pending_posts):
            self._beside(self._post_handoff(handoff_id))
        for mail in list(m.pending_sales_mail):
            self._beside(
                self._notify_sales(mail.kind, mail.handoff_no, mail.to, mail.business_days)
            )

    async def _finish_background(self) -> None:
        if self._background:
            await asyncio.gather(*self._background)
            self._background.clear()

    async def _set_lifecycle(self, to: Lifecycle, *, actor: str, reason: str) -> None:
        await self._record(self._move(to, actor=actor, reason=reason))

    def _move(self, to: Lifecycle, *, actor: str, reason: str) -> TransitionInput:
        """Change the lifecycle at once, before any await, so the main loop and the handlers
        never see a half-made move; `_record` stores it afterwards."""
        m = self._mem
        before = None if m.transitions == 0 else m.lifecycle
        m.lifecycle = to
        m.transitions += 1
        if before is not None:
            self._note("lifecycle", f"{before} → {to}: {reason}")
        workflow.logger.info("lifecycle %s → %s", before, to)
        self._woken = True
        return TransitionInput(
            journey_id=self._id,
            seq=m.transitions,
            lead_id=self._input.lead_id,
            product=self._input.product,
            from_lifecycle=before,
            to_lifecycle=to,
            stage=m.stage,
            score=self._score.total,
            actor=actor,
            reason=reason,
            journey_time=workflow.now(),
        )

    async def _record(self, transition: TransitionInput) -> None:
        self._publish()
        await calls.local(
            TransitionActivities.record_transition,
            transition,
            summary=f"record {transition.from_lifecycle or 'start'} → {transition.to_lifecycle}",
        )

    async def _stop_email(self, why: Lifecycle, *, actor: str, reason: str) -> None:
        """Unsubscribe or bounce: no more email, recorded in the store's suppressions. While
        sales owns the lead the journey stays open for sales feedback; otherwise it ends (a
        lead still waiting for sales capacity has not reached sales: it ends too)."""
        m = self._mem
        m.email_stopped = why
        scope = "global" if why == "bounced" else "product"
        if m.lifecycle in SALES_OWNED and not m.handoff_queued:
            self._note("unsubscribe", f"email stopped ({why}: {reason}); sales still owns the lead")
            transition = None
        else:
            transition = self._move(why, actor=actor, reason=reason)
            self._end(f"{why}: {reason}")
        await self._suppress(scope, None, reason)
        if transition is not None:
            await self._record(transition)

    async def _suppress(self, scope: str, mail_types: list[str] | None, reason: str) -> None:
        await calls.local(
            SuppressionActivities.record_suppression,
            SuppressionInput(
                lead_id=self._input.lead_id,
                product=self._input.product,
                scope=scope,
                mail_types=mail_types or [],
                reason=reason,
            ),
            summary=f"suppress {scope} email: {reason}",
        )

    def _end(self, reason: str) -> None:
        self._mem.ended_reason = reason
        self._note("exit", reason)
        self._woken = True
        self._publish()

    # ---- sales: the SGL start, the owner's email, the feedback SLA ----------------------

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
        owner = self._scenario.handoff.owner
        if owner is None or not self._version(patches.SALES_MAIL):
            return
        m.handed_off_at = workflow.now()
        m.sla_notices = 0
        self._beside(self._notify_sales("handoff", handoff_no, owner, 0))

    def _next_sla_notice(self) -> tuple[datetime, SlaNotice] | None:
        """The SLA email due next while the current hand-off awaits sales feedback."""
        m = self._mem
        if m.lifecycle != "handed_off" or m.handed_off_at is None or m.ended_reason:
            return None
        return next_sla_notice(self._scenario, m.handed_off_at, m.sla_notices)

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
        owner = self._scenario.handoff.owner
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
        what, done = narrative.sales_mail(kind, handoff_no, business_days)
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
        else:
            self._note("handoff", done)

    @property
    def _sales_timezone(self) -> str:
        """Sales works in the scenario's timezone (the lead's may differ)."""
        window = self._scenario.send_window
        return window.timezone if window else "UTC"

    # ---- signals, updates, query ------------------------------------------------------

    @workflow.signal(name="behavior")
    def behavior(self, event: BehaviorEvent) -> None:
        """Queue the event; the journey processes it in order. Repeated event ids are ignored."""
        seen = self._m.seen_event_ids if self._m else []
        if event.event_id in seen or any(e.event_id == event.event_id for e in self._inbox):
            return
        self._inbox.append(event)

    @workflow.signal(name="behaviors")
    def behaviors(self, events: list[BehaviorEvent]) -> None:
        """Several events at once (the API's relay groups them per journey): one signal,
        one workflow task, however many events a busy lead produced."""
        for event in events:
            self.behavior(event)

    @workflow.signal(name="pause")
    async def pause(self) -> None:
        await self._ready()
        if not self._mem.paused:
            self._mem.paused = True
            self._note("pause", "paused: no email until resumed")
            self._woken = True

    @workflow.signal(name="resume")
    async def resume(self) -> None:
        await self._ready()
        if self._mem.paused:
            self._mem.paused = False
            self._note("pause", "resumed")
            self._woken = True

    @workflow.signal(name="unsubscribe")
    async def unsubscribe(self, request: Unsubscribe) -> None:
        """All email stops at once; a mail-type scope only stops those types."""
        await self._ready()
        m = self._mem
        if m.lifecycle in TERMINAL or m.ended_reason is not None:
            return
        if request.mail_types is None:
            await self._stop_email("unsubscribed", actor="lead", reason=request.reason)
            return
        added = [t for t in request.mail_types if t not in m.suppressed_mail_types]
        m.suppressed_mail_types.extend(added)
        self._note("unsubscribe", f"opted out of {', '.join(request.mail_types)}")
        self._woken = True
        await self._suppress("mail_type", list(request.mail_types), request.reason)

    @workflow.update(name="sales_feedback")
    async def sales_feedback(self, feedback: SalesFeedback) -> JourneyState:
        m = self._mem
        target = feedback_target(m.lifecycle, feedback.outcome)
        reason = f"{feedback.outcome}" + (f": {feedback.reason}" if feedback.reason else "")
        self._note("feedback", f"sales feedback from {feedback.by}: {reason}")
        # Every change first, then the awaits: the main loop must not act on half of it.
        transitions = [self._move(target, actor=feedback.by, reason=reason)]
        if target == "recycled" and m.email_stopped:
            transitions.append(self._move(m.email_stopped, actor="journey", reason="no email"))
            self._end(f"sales: {reason}; email had stopped ({m.email_stopped})")
        elif target == "recycled":
            self._recycle()
        elif target in TERMINAL:
            self._end(f"sales: {reason}")
        for transition in transitions:
            await self._record(transition)
        return self._state()

    def _recycle(self) -> None:
        """Back to nurturing on the recycle track, behaviour before now discounted."""
        m = self._mem
        recycle = self._scenario.handoff.recycle
        m.discount = Discount(before=workflow.now(), keep=recycle.keep_behavior)
        self._switch_track(recycle.track, "recycled by sales")
        self._score = self._compute_score()
        m.stage = stage_for(self._score.total, self._scenario.stages)

    @sales_feedback.validator
    def _check_feedback(self, feedback: SalesFeedback) -> None:
        if self._m is None:
            raise ValueError("the journey is still starting; retry in a moment")
        if self._m.ended_reason is not None:
            raise ValueError(f"the journey has ended ({self._m.ended_reason})")
        feedback_target(self._m.lifecycle, feedback.outcome)

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        if self._m is None:
            raise RuntimeError("the journey is still loading its scenario")
        return self._state()

    def _state(self) -> JourneyState:
        m = self._mem
        step = self._current_step()
        return JourneyState(
            product=self._input.product,
            lead_id=self._input.lead_id,
            stage=m.stage,
            lifecycle=m.lifecycle,
            score=self._score,
            track=m.track,
            step_index=m.step_index,
            step_key=step.key if step else None,
            next_touch_at=None if m.ended_reason else self._next_touch(workflow.now()),
            send_hour=self._send_hour(),
            handoff_queue_position=m.handoff_position if m.handoff_queued else None,
            scenario_version=m.scenario.version,
            paused=m.paused,
            emails_sent=m.emails_sent,
            variants=dict(m.variants),
            suppressed_mail_types=list(m.suppressed_mail_types),
            ended_reason=m.ended_reason,
            timeline=list(m.timeline),
        )

    # ---- bookkeeping ------------------------------------------------------------------

    async def _ready(self) -> None:
        await workflow.wait_condition(lambda: self._m is not None)

    def _version(self, patch_id: str) -> bool:
        """`workflow.patched(patch_id)`, asked once per journey and kept in its memory: a run
        that continues as new keeps the behaviour it had (a fresh run would
        otherwise always take the new path). Call it where the command sequence allows the
        marker: a patched() call's place never moves once released."""
        versions = self._mem.versions
        if patch_id not in versions:
            versions[patch_id] = workflow.patched(patch_id)
        return versions[patch_id]

    @property
    def _mem(self) -> JourneyMemory:
        assert self._m is not None
        return self._m

    @property
    def _scenario(self) -> Scenario:
        return self._mem.scenario

    @property
    def _exit_after(self) -> str:
        return format_duration(self._scenario.exit.after)

    @property
    def _exit_deadline(self) -> datetime:
        return self._mem.started_at + self._scenario.exit.after

    def _note(self, kind: str, text: str) -> None:
        timeline = self._mem.timeline
        timeline.append(TimelineEntry(at=workflow.now(), kind=kind, text=text))  # type: ignore[arg-type]
        del timeline[:-TIMELINE_LENGTH]
        workflow.set_current_details(self._card())  # metadata, not a command: always current

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_length
        )

    async def _continue_as_new(self) -> None:
        """Start a fresh history carrying everything, once no handler is mid-flight. Work
        beside the journey (CRM posts, sales emails) is carried in memory and picked up by
        the next run; before that version, the journey waited for it here."""
        if not self._version(patches.CARRY_BACKGROUND):
            await self._finish_background()
        await workflow.wait_condition(workflow.all_handlers_finished)
        m = self._mem
        m.events = relevant_events(m.events, workflow.now(), self._scenario.scoring)
        del m.seen_event_ids[:-SEEN_IDS_KEPT]
        workflow.continue_as_new(
            self._input.model_copy(update={"memory": m, "pending_events": self._inbox})
        )

    def _publish(self) -> None:
        """Upsert the search attributes that changed, and refresh the journey card.

        Called where the journey is about to wait or has just changed hands (lifecycle,
        end), not after every event: one upsert per workflow task keeps histories short.
        """
        m = self._mem
        values: dict[str, object] = {
            sa.PRODUCT.name: self._input.product,
            sa.STAGE.name: m.stage,
            sa.LIFECYCLE.name: m.lifecycle,
            sa.TRACK.name: m.track,
            sa.SCENARIO_VERSION.name: m.scenario.version,
            sa.SCORE.name: self._score.total,
            sa.NEXT_TOUCH.name: None if m.ended_reason else self._next_touch(workflow.now()),
        }
        updates = sa.changed(values, self._published)
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self._card())

    def _card(self) -> str:
        m = self._mem
        return narrative.card(
            name=self._scenario.name,
            lead_id=self._input.lead_id,
            m=m,
            score=self._score,
            steps=self._steps_on_track,
            next_touch=None if m.ended_reason else self._next_touch(workflow.now()),
            sla=self._next_sla_notice(),
        )


def _outlasted(err: ActivityError) -> bool:
    """The activity kept failing in ways a retry could fix until its bound ran out (the
    server ends it with a timeout, or with the last failure once no retry fits)."""
    return isinstance(err.cause, ActivityTimeout) or err.retry_state == RetryState.TIMEOUT
