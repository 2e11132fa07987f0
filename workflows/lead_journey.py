"""LeadJourney: one lead, one product, one durable journey.

Sends the current track's step emails inside the send window, sleeps between
them in a way behaviour can interrupt, rescores on every event, fires trigger
emails, switches tracks, hands hot leads to sales and takes their feedback.
Deterministic: all time is `workflow.now()`, every side effect is an activity.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.email import SendEmailInput, SendEmailResult
    from activities.handoff import (
        HandoffInput,
        HandoffResult,
        LeaveQueueInput,
        PostHandoffInput,
        SlotInput,
        SlotResult,
    )
    from activities.sales_mail import SalesMailInput, SalesMailResult
    from activities.scenario import LoadScenarioInput
    from activities.suppression import SuppressionInput
    from activities.transitions import TransitionInput
    from nurture.handoff.sla import SlaNotice, next_sla_notice
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
        hour_ever_open,
        in_business_hours,
        local_day,
        next_capacity_check,
        next_day_opens,
        next_send_time,
        open_hours,
        preferred_send_hour,
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

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))
# Bounds on activity calls: no outage may hold a journey forever (README "A journey never
# stops moving"). Local activities (load_scenario, record_transition, hand_off,
# record_suppression, the hand-off queue) have none, for a reason: they write the journey's
# own records to the store, and moving on without them would lose them; a store outage
# stops the API as well, and every journey resumes where it was once the store is back.
SEND_BOUND = timedelta(minutes=3)  # then the step is deferred and the loop takes behaviour
SEND_BACKOFF = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4), timedelta(hours=12))
SEND_GIVE_UP = timedelta(days=3)  # of provider outage for one step: skipped, recorded
CRM_BOUND = timedelta(days=3)  # a hand-off post beside the journey, carried across runs
SALES_MAIL_BOUND = timedelta(days=1)
STAGE_PRECISION = timedelta(minutes=1)
MIN_WAIT = timedelta(seconds=1)
SALES_WAIT = timedelta(days=30)
MAX_TRACK_HOPS = 10
SEEN_IDS_KEPT = 2000
# Version markers (workflow.patched) of command sequences added for running journeys.
SALES_MAIL_PATCH = "sales-notifications"
SGL_PATCH = "sales-generated-leads"
CARRY_BACKGROUND_PATCH = "carry-background-across-runs"


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
        # Local activities: quick, in the worker, no round trip through the server.
        scenario = await workflow.execute_local_activity(
            "load_scenario",
            LoadScenarioInput(product=self._input.product),
            result_type=Scenario,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"load scenario '{self._input.product}'",
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
        if self._mem.lifecycle in NURTURING:
            wake_at = self._exit_deadline
            summary = f"listen for behaviour until exit on {wake_at:%Y-%m-%d}"
        elif self._mem.handoff_queued:
            window = self._scenario.send_window
            wake_at = (
                next_capacity_check(now, window)
                if self._mem.queue_in_business_hours
                else next_day_opens(now, window)
            )
            summary = (f"wait for sales capacity (#{self._mem.handoff_position} in the queue) "
                       f"until {wake_at:%Y-%m-%d %H:%M %Z}")  # fmt: skip
        else:
            wake_at = now + SALES_WAIT
            summary = f"{self._mem.lifecycle}: sales owns the lead; listen for behaviour"
        if due is not None and due <= wake_at:
            wake_at = due
            summary = self._step_wait_summary(due)
        wake_at, summary = self._sla_wake_up(wake_at, summary)
        stage_change = self._next_stage_change(now, wake_at)
        if stage_change is not None:
            wake_at = stage_change
            minutes = timedelta(minutes=math.ceil((wake_at - now) / timedelta(minutes=1)))
            summary = f"wait {format_duration(minutes)} → score decays out of {self._mem.stage}"
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

    def _next_stage_change(self, now: datetime, until: datetime) -> datetime | None:
        """When decay (or a pattern window closing) first moves the stage, if before `until`.

        Without new events a score only falls, so a bisection finds the moment to the minute.
        """
        stage = self._mem.stage
        stages = self._scenario.stages

        def stage_at(moment: datetime) -> str:
            return stage_for(self._compute_score(moment).total, stages)

        if stage_at(until) == stage:
            return None
        low, high = now, until
        while high - low > STAGE_PRECISION:
            middle = low + (high - low) / 2
            if stage_at(middle) == stage:
                low = middle
            else:
                high = middle
        return high

    # ---- steps and tracks -------------------------------------------------------------

    def _current_step(self) -> Step | None:
        steps = self._scenario.tracks[self._mem.track].steps
        index = self._mem.step_index
        return steps[index] if index < len(steps) else None

    def _next_touch(self, now: datetime) -> datetime | None:
        """When the next step email goes out, or None when nurture email is off."""
        m = self._mem
        step = self._current_step()
        if step is None or m.paused or m.email_stopped or m.lifecycle not in NURTURING:
            return None
        due = max(m.step_anchor + step.wait, now, m.deferred_until or now)
        return next_send_time(
            due, self._scenario.send_window, self._input.profile.timezone, self._send_hour()
        )

    def _send_time_optimised(self) -> bool:
        """Whether this journey's steps go out at the lead's best hour. Called from the run
        loop only (a query must not add the version marker)."""
        window = self._scenario.send_window
        return bool(window and window.optimise_send_time) and self._version(
            "send-time-optimisation"
        )

    def _send_hour(self) -> int | None:
        """The lead's own best hour, else its role's, else the scenario's default (None: any
        time the window allows)."""
        window = self._scenario.send_window
        if not self._optimise_send_time or window is None or window.optimise_send_time is None:
            return None
        settings = window.optimise_send_time
        role = self._input.profile.role or "other"
        choices = (
            preferred_send_hour(self._mem.open_hours, settings.min_events),
            self._scenario.role_send_hours.get(role),
            settings.default_hour,
        )  # the first one the window allows (a lead reading mail at 23:00 gets its role's)
        return next((h for h in choices if h is not None and hour_ever_open(window, h)), None)

    @property
    def _timezone(self) -> str:
        window = self._scenario.send_window
        return self._input.profile.timezone or (window.timezone if window else "UTC")

    def _step_wait_summary(self, due: datetime) -> str:
        m = self._mem
        step = self._current_step()
        assert step is not None
        total = len(self._scenario.tracks[m.track].steps)
        text = f"wait {format_duration(step.wait)} → step {m.step_index + 1}/{total} '{step.key}'"
        if m.deferred_until is not None and due >= m.deferred_until:
            if m.deferred_why:
                text += f" (deferred to {due:%Y-%m-%d %H:%M} UTC: {m.deferred_why})"
            else:
                text += f" (deferred by the weekly frequency cap to {due:%Y-%m-%d %H:%M} UTC)"
        elif due > m.step_anchor + step.wait:
            text += f" (send window opens {due:%a %H:%M} UTC)"
        return text

    async def _send_step(self) -> None:
        m = self._mem
        step = self._current_step()
        assert step is not None
        track = m.track
        key = f"{track}#{m.track_entries}/{step.key}"
        if step.mail_type in m.suppressed_mail_types:
            self._note("email", f"skipped step '{step.key}': lead opted out of {step.mail_type}")
        else:
            total = len(self._scenario.tracks[track].steps)
            result = await self._send_email(
                key=key,
                mail_type=step.mail_type,
                variants=step.variants(),
                variant_key=f"{track}/{step.key}",
                what=f"step {m.step_index + 1}/{total} '{step.key}' on {track}",
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
        done = m.steps_sent.get(track, [])
        steps = self._scenario.tracks[track].steps
        m.step_index = next((i for i, s in enumerate(steps) if s.key not in done), len(steps))
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
        variant = self._variant(variant_key, len(variants))
        letter = chr(ord("A") + variant)
        subject, template = variants[variant]
        try:
            result = await workflow.execute_activity(
                "send_email",
                SendEmailInput(
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
                ),
                result_type=SendEmailResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=SEND_BOUND,
                retry_policy=RETRY,
                summary=f"send {what}" + (f" (variant {letter})" if len(variants) > 1 else ""),
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
        self._note("email", f"sent {what}" + (f", variant {letter}" if len(variants) > 1 else ""))
        return result

    def _provider_unavailable(self, what: str, err: ActivityError) -> SendEmailResult | None:
        """The provider stayed away for the whole send bound: defer the step with backoff
        (behaviour is handled meanwhile), and skip it once the outage outlasts the give-up
        bound. A trigger is not deferred: it is timely or pointless."""
        m = self._mem
        now = workflow.now()
        since = m.step_unavailable_since = m.step_unavailable_since or now
        last = err.cause.__cause__ if isinstance(err.cause, ActivityTimeout) else err.cause
        if now - since >= SEND_GIVE_UP:
            outage = format_duration(now - since)
            self._note("email", f"gave up on {what}: the email provider was unavailable for "
                                f"{outage} ({last or err.cause})")  # fmt: skip
            return None
        wait = SEND_BACKOFF[min(m.step_unavailable_count, len(SEND_BACKOFF) - 1)]
        m.step_unavailable_count += 1
        retry_at = now + wait
        detail = m.deferred_why = f"email provider unavailable ({last or err.cause})"
        self._note("email", f"deferred {what} to {retry_at:%Y-%m-%d %H:%M}: {detail}")
        return SendEmailResult(send_id="", status="deferred", retry_at=retry_at, detail=detail)

    def _variant(self, key: str, count: int) -> int:
        """A/B assignment: stable per lead and step, so replays and retries agree."""
        return assign_variant(self._input.lead_id, self._input.product, key, count)

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
            if event.product not in (None, self._input.product) and (
                event.type not in DELIVERY_ENDING_TYPES
            ):
                self._note("event", f"ignored {event.type}: it concerns '{event.product}'")
                continue
            m.events.append(event)
            self._note("event", _describe(event))
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
        for rule in scenario.exit.when:
            hit = rule.matches_event(event) if event else False
            if hit or (rule.stage is not None and m.stage != before and rule.stage == m.stage):
                what = f"event {rule.event}" if rule.event else f"stage {rule.stage}"
                self._end(f"exit rule: {what}")
                return
        if await self._maybe_hand_off():
            return
        for branch in scenario.branches:
            cond = branch.when
            hit = (event is not None and cond.matches_event(event)) or (
                cond.stage is not None and m.stage != before and cond.stage == m.stage
            )
            if hit and branch.to != m.track and (branch.from_ is None or m.track in branch.from_):
                why = f"event {event.type}" if cond.event and event else f"stage {m.stage}"
                self._switch_track(branch.to, why)
                break
        if event is not None:
            for trigger in scenario.triggers:
                if trigger.when.matches(event) and self._trigger_allowed(trigger):
                    await self._fire_trigger(trigger, event)

    def _trigger_allowed(self, trigger: Trigger) -> bool:
        m = self._mem
        if m.lifecycle not in NURTURING or m.paused or m.email_stopped:
            return False
        if "trigger" in m.suppressed_mail_types:
            return False
        if trigger.stages is not None and m.stage not in trigger.stages:
            return False
        last = m.trigger_fired_at.get(trigger.key)
        return last is None or workflow.now() - last >= trigger.cooldown

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

    def _handoff_signals(self) -> list[str]:
        """The required buying signals seen since the lead was last recycled."""
        m = self._mem
        since = m.discount.before if m.discount else None
        seen = []
        for match in self._scenario.handoff.requires_any:
            if any(
                match.matches(e) and (since is None or e.occurred_at >= since) for e in m.events
            ):
                seen.append(match.event)
        return seen

    async def _maybe_hand_off(self) -> bool:
        """Hand the lead to sales when it qualifies; True when the hand-off rule took over."""
        m = self._mem
        if m.handoff_queued:
            return await self._queued_hand_off()
        if m.lifecycle not in NURTURING:
            return False
        reason = self._handoff_reason()
        if reason is None:
            return False
        m.handoffs += 1
        if self._capacity_limited():
            m.handoff_queued, m.queued_from = True, m.lifecycle
            # waiting hand-offs ask hourly in business hours (before: 00:01 every day)
            m.queue_in_business_hours = self._version("handoff-capacity-business-hours")
            await self._set_lifecycle("mql", actor="journey", reason=reason)
            return await self._queued_hand_off()
        await self._set_lifecycle("mql", actor="journey", reason=reason)
        await self._deliver_hand_off(reason)
        return True

    def _handoff_reason(self) -> str | None:
        """Why the lead is ready for sales (score, fit, buying signals), or None."""
        rule = self._scenario.handoff
        if self._score.total < self._scenario.handoff_threshold:
            return None
        if rule.fit_at_least is not None and self._score.fit < rule.fit_at_least:
            return None
        signals = self._handoff_signals()
        if rule.requires_any and not signals:
            return None
        reason = f"score {self._score.total} ≥ {self._scenario.handoff_threshold}"
        if signals:
            reason += f"; signals: {', '.join(signals)}"
        return reason

    def _capacity_limited(self) -> bool:
        return self._scenario.handoff.daily_capacity is not None and self._version(
            "handoff-capacity"
        )

    async def _queued_hand_off(self) -> bool:
        """Waiting for sales capacity: ask for today's slot with the current score; leave the
        queue (back to nurturing) when the lead no longer qualifies."""
        m = self._mem
        capacity = self._scenario.handoff.daily_capacity
        assert capacity is not None
        if workflow.now() >= self._exit_deadline:
            return True  # too old to hand off now: the run loop ends the journey
        reason = self._handoff_reason()
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
        slot = await workflow.execute_local_activity(
            "request_handoff_slot",
            SlotInput(
                journey_id=self._id,
                handoff_no=m.handoffs,
                product=self._input.product,
                score=self._score.total,
                day=local_day(workflow.now(), self._scenario.send_window),
                capacity=capacity,
            ),
            result_type=SlotResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
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
        await workflow.execute_local_activity(
            "leave_handoff_queue",
            LeaveQueueInput(journey_id=self._id, handoff_no=m.handoffs, release=release),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="leave the hand-off queue",
        )
        m.handoff_queued, m.queued_from, m.handoff_position = False, None, None

    async def _deliver_hand_off(self, reason: str) -> None:
        """Record the hand-off, move to handed_off, and post it to the CRM in the background."""
        m = self._mem
        handoff_no = m.handoffs
        moments = self._moments()
        result = await workflow.execute_local_activity(
            "hand_off",
            HandoffInput(
                journey_id=self._id,
                lead_id=self._input.lead_id,
                product=self._input.product,
                handoff_no=handoff_no,
                score=self._score,
                moments=moments,
                journey_time=workflow.now(),
            ),
            result_type=HandoffResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
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
            await workflow.execute_activity(
                "post_handoff",
                PostHandoffInput(handoff_id=handoff_id),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=CRM_BOUND,
                retry_policy=RETRY,
                summary=f"post hand-off #{handoff_id} to the CRM webhook",
            )
            self._note("handoff", f"hand-off #{handoff_id} delivered to the CRM webhook")
        except ActivityError as err:
            refused = (
                "was unreachable for " + format_duration(CRM_BOUND)
                if _outlasted(err)
                else "refused"
            )
            self._note(
                "handoff", f"the CRM webhook {refused} hand-off #{handoff_id}: {err.cause or err}"
            )
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
        await workflow.execute_local_activity(
            "record_transition",
            transition,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
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
        await workflow.execute_local_activity(
            "record_suppression",
            SuppressionInput(
                lead_id=self._input.lead_id,
                product=self._input.product,
                scope=scope,
                mail_types=mail_types or [],
                reason=reason,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
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
        if self._input.origin == "sales" and workflow.patched(SGL_PATCH):
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
        if owner is None or not self._version(SALES_MAIL_PATCH):
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
        then = "remind the owner" if notice == "remind" else "escalate"
        return due, f"wait for sales feedback until {due:%Y-%m-%d %H:%M} UTC (SLA) → {then}"

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
        action = "reminding the owner" if notice == "remind" else "escalating"
        self._note(
            "handoff",
            f"SLA: no sales feedback {days} business days after hand-off #{m.handoffs}; {action}",
        )
        self._beside(self._notify_sales(notice, m.handoffs, to, days))
        return True

    async def _notify_sales(
        self, kind: SalesMailKind, handoff_no: int, to: str, business_days: int
    ) -> None:
        """Email our sales team (ids only: the activity reads the lead from the store);
        retried until the provider accepts it, noted in the timeline either way."""
        sla = f"no sales feedback for {business_days} business days (SLA)"
        what, done = {
            "handoff": (
                f"email hand-off #{handoff_no} to the owner",
                f"emailed hand-off #{handoff_no} to the owner",
            ),
            "remind": (
                f"remind the owner of hand-off #{handoff_no}: {sla}",
                f"reminded the owner of hand-off #{handoff_no}: {sla}",
            ),
            "escalate": (
                f"escalate hand-off #{handoff_no}: {sla}",
                f"escalated hand-off #{handoff_no}: {sla}",
            ),
        }[kind]
        pending = PendingSalesMail(
            kind=kind, handoff_no=handoff_no, to=to, business_days=business_days
        )
        pending_mail = self._mem.pending_sales_mail
        if pending not in pending_mail:
            pending_mail.append(pending)
        try:
            result = await workflow.execute_activity(
                "notify_sales",
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
                result_type=SalesMailResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=SALES_MAIL_BOUND,
                retry_policy=RETRY,
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
            recycle = self._scenario.handoff.recycle
            m.discount = Discount(before=workflow.now(), keep=recycle.keep_behavior)
            self._switch_track(recycle.track, "recycled by sales")
            self._score = self._compute_score()
            m.stage = stage_for(self._score.total, self._scenario.stages)
        elif target in TERMINAL:
            self._end(f"sales: {reason}")
        for transition in transitions:
            await self._record(transition)
        return self._state()

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
        that continues as new keeps the behaviour the journey had (a fresh run would
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
        if not self._version(CARRY_BACKGROUND_PATCH):
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
        next_touch = None if m.ended_reason else self._next_touch(workflow.now())
        values: dict[str, object] = {
            sa.PRODUCT.name: self._input.product,
            sa.STAGE.name: m.stage,
            sa.LIFECYCLE.name: m.lifecycle,
            sa.TRACK.name: m.track,
            sa.SCENARIO_VERSION.name: m.scenario.version,
            sa.SCORE.name: self._score.total,
            sa.NEXT_TOUCH.name: next_touch,
        }
        updates: list[SearchAttributeUpdate] = []
        for key in sa.ALL:
            value = values[key.name]
            if key.name in self._published and self._published[key.name] == value:
                continue
            if value is None:
                if key.name not in self._published:
                    self._published[key.name] = None
                    continue
                updates.append(key.value_unset())
            else:
                updates.append(key.value_set(value))  # type: ignore[arg-type]
            self._published[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self._card())

    def _card(self) -> str:
        m = self._mem
        next_touch = None if m.ended_reason else self._next_touch(workflow.now())
        s = self._score
        total = len(self._scenario.tracks[m.track].steps)
        lines = [
            f"**{self._scenario.name}** · lead `{self._input.lead_id}`",
            "",
            f"- stage **{m.stage}** · score **{s.total}** (fit {s.fit} + behaviour {s.behavior})",
            f"- lifecycle **{m.lifecycle}**" + (" · **paused**" if m.paused else ""),
            f"- track **{m.track}** · step {min(m.step_index + 1, total)}/{total}"
            f" · {m.emails_sent} emails sent",
        ]
        if m.ended_reason:
            lines.append(f"- ended: {m.ended_reason}")
        elif next_touch is not None:
            lines.append(f"- next touch {next_touch:%Y-%m-%d %H:%M} UTC")
        sla = self._next_sla_notice()
        if sla is not None:
            lines.append(f"- sales feedback due {sla[0]:%Y-%m-%d %H:%M} UTC (SLA, then {sla[1]})")
        if m.timeline:
            last = m.timeline[-1]
            lines.append(f"- last: {last.text} ({last.at:%Y-%m-%d %H:%M})")
        return "\n".join(lines)


def _outlasted(err: ActivityError) -> bool:
    """The activity kept failing in ways a retry could fix until its bound ran out (the
    server ends it with a timeout, or with the last failure once no retry fits)."""
    return isinstance(err.cause, ActivityTimeout) or err.retry_state == RetryState.TIMEOUT


def _describe(event: BehaviorEvent) -> str:
    """The event for the timeline and the UI card: no query string, where trackers and
    email links put addresses and tokens."""
    where = f" {event.url.split('?')[0].split('#')[0]}" if event.url else ""
    return f"{event.type}{where}"
