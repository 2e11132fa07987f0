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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

from workflows import calls, patches
from workflows.versions import MovesBetweenVersions

with workflow.unsafe.imports_passed_through():
    from activities.ab import AbActivities, AbWinnerInput
    from activities.conversions import ConversionActivities, ConversionInput
    from activities.email import EmailActivities, SendEmailInput, SendEmailResult
    from activities.line import LineActivities, SendLineInput, SendLineResult
    from activities.restart import CarryOverInput, RestartActivities
    from activities.scenario import LoadScenarioInput, ScenarioActivities
    from activities.segments import SegmentActivities, SegmentMembershipInput
    from activities.step_webhook import (
        SendWebhookInput,
        SendWebhookResult,
        StepWebhookActivities,
    )
    from nurture.broadcasts import delivery as broadcasts
    from nurture.broadcasts.contract import (
        UPDATE_NAME as BROADCAST_UPDATE,
    )
    from nurture.broadcasts.contract import (
        BroadcastAnswer,
        BroadcastDelivery,
        send_key,
    )
    from nurture.journey import carry_over, narrative, rules
    from nurture.journey import search_attributes as sa
    from nurture.journey.contract import (
        WORKFLOW_TYPE,
        EngagementWatch,
        JourneyInput,
        JourneyMemory,
        JourneyResult,
        JourneyState,
        Restart,
        SalesFeedback,
        ScenarioUpdate,
        StopJourney,
        Unsubscribe,
        VersionMoveResult,
        journey_id,
    )
    from nurture.journey.lifecycle import (
        SALES_OWNED,
        TERMINAL,
        Lifecycle,
        feedback_target,
    )
    from nurture.journey.version_move import refusal
    from nurture.leads.events import (
        DELIVERY_ENDING_TYPES,
        EMAIL_CLICK,
        EMAIL_OPEN,
        BehaviorEvent,
    )
    from nurture.leads.profile import LeadProfile
    from nurture.scenario.durations import format_duration
    from nurture.scenario.model import (
        TRACK_END,
        TRACK_LISTEN,
        Goal,
        MailType,
        Reentry,
        Scenario,
        Step,
        Touch,
        Trigger,
    )
    from nurture.schedule.send_window import next_capacity_check, next_day_opens, open_hours
    from nurture.schedule.variants import assign_variant, in_holdout
    from nurture.scoring.score import (
        Discount,
        ScoreBreakdown,
        event_horizon,
        prune_events,
        relevant_events,
        stage_for,
    )

# A step's send is bounded (workflows/calls.py says why the journey's own records are not):
# past it the step is deferred and the loop takes behaviour.
SEND_BOUND = timedelta(minutes=3)
MIN_WAIT = timedelta(seconds=1)
SALES_WAIT = timedelta(days=30)
MAX_TRACK_HOPS = 10
SEEN_IDS_KEPT = 2000
# Replay cost grows with the events a run carries (each rescoring reads all of them) and
# the history's length: with these bounds the longest replay stays well inside the 10 s
# workflow task timeout on a busy worker (measured in bench/scale.py's journey-year).
EVENTS_PRUNED_AT = 400  # events carried for scoring before they are pruned back
REPLAY_HISTORY_LIMIT = 1_000  # history events per run
EVENTS_PER_RUN = 1_000  # behaviour events taken per run: each is rescored on replay
CARRY_LIMIT = 2_000  # events a continue-as-new may carry (~0.5 MB of its 2 MB input)
INBOX_SLICE = 100  # behaviour events taken per workflow task
SLICE_PAUSE = timedelta(milliseconds=1)  # a timer: the cheapest command that ends a task
BROADCASTS_KEPT = 200
# A broadcast the email provider stays away from for the whole send bound is tried again
# this much later (until it expires); a step's outage clock is left alone.
BROADCAST_OUTAGE_RETRY = timedelta(hours=1)


@dataclass
class StepTimer:
    """The timer a journey waits on between steps, and the moment it was set for."""

    wake_at: datetime
    fired: asyncio.Future[None]


@workflow.defn(name=WORKFLOW_TYPE)
class LeadJourney(MovesBetweenVersions):
    @workflow.init
    def __init__(self, input: JourneyInput) -> None:
        self._input = input
        self._id = journey_id(input.product, input.lead_id)
        self._m: JourneyMemory | None = input.memory
        self._inbox: list[BehaviorEvent] = list(input.pending_events)
        # Ids queued this run and ids the journey has seen, as sets: a signal's repeats are
        # found in O(1), not by scanning lists a backlog makes long.
        self._queued_ids = {event.event_id for event in self._inbox}
        self._seen_ids: set[str] | None = None  # from memory, once it is loaded
        self._taken = 0  # behaviour events taken this run (patches.BOUNDED_REPLAY)
        self._woken = False
        self._between_steps = False
        self._optimise_send_time = False
        self._score = ScoreBreakdown()
        self._background: list[asyncio.Task[None]] = []
        self._timer: StepTimer | None = None  # between steps (patches.KEEP_STEP_TIMER)
        self._unsaid: list[str] = []  # notes made before the journey's memory exists
        # Continue-as-new carries search attributes over: start from what the server has.
        carried = workflow.info().typed_search_attributes
        self._published: dict[str, object] = {
            key.name: carried.get(key) for key in sa.ALL if carried.get(key) is not None
        }

    @workflow.run
    async def run(self, input: JourneyInput) -> JourneyResult:
        if self._m is None and input.restart is not None:
            await self._restart(input.restart)
        elif self._m is None:
            await self._begin()
        else:
            self._m.runs += 1
            self._score = self._compute_score()
            self._resume_background()
        m = self._mem
        while m.ended_reason is None:
            if m.rescore_pending:  # a new scenario version was taken (`scenario_update`)
                m.rescore_pending = False
                await self._reevaluate(None)
                continue
            if self._replay_is_long():  # before behaviour: a stream of it cannot starve this
                await self._continue_as_new()
            if self._inbox:
                await self._process_inbox()
                continue
            if m.lifecycle_moves:
                await self._lifecycle_triggers()
                continue
            if self._history_is_long():
                await self._continue_as_new()
            now = workflow.now()
            if (rules.nurtured(m) or m.handoff_queued) and now >= self._exit_deadline:
                self._end(f"journey reached its maximum age ({self._exit_after})")
                break
            if m.watch is not None and m.watch.due <= now:
                await self._no_response()
                continue
            if m.reentry_at is not None and m.reentry_at <= now:
                await self._reenter()
                continue
            if m.broadcasts and min(b.due for b in m.broadcasts) <= now:
                await self._send_broadcast()
                continue
            self._optimise_send_time = self._send_time_optimised()
            due = self._next_touch(now)
            if due is not None and due <= now:
                await self._send_step()
                continue
            await self._wait(now, due)
        self._drop_timer()
        if self._inbox:  # a backlog the end cut short: say so rather than drop it silently
            self._note("event", f"{len(self._inbox)} events not taken: the journey had ended")
        for held in m.broadcasts:  # handed over, not yet due: the timeline says why not sent
            name = held.delivery.broadcast_id
            self._note("broadcast", f"broadcast '{name}' not sent: the journey ended")
        m.broadcasts.clear()
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
        member_of = await self._member_of(scenario.entry_segments())
        track = scenario.entry_track_for(self._profile, member_of)
        self._m = JourneyMemory(started_at=now, scenario=scenario, track=track, step_anchor=now)
        self._say_unsaid()
        self._note("start", f"journey started on track '{track}' (scenario {scenario.version})")
        await self._set_start_lifecycle()
        await self._reevaluate(None)  # a lead whose fit alone makes it warm starts on that track

    async def _restart(self, restart: Restart) -> None:
        """A new run for a lead whose journey had closed: on the current scenario, from its
        entry track, carrying the closed runs' history from the store (its behaviour still
        scores; content it had is not sent again; records go on numbering), nurtured again."""
        product, lead_id = self._input.product, self._input.lead_id
        scenario = await calls.local(
            ScenarioActivities.load_scenario,
            LoadScenarioInput(product=product),
            summary=f"load scenario '{product}'",
        )
        now = workflow.now()
        carried = await calls.local(
            RestartActivities.carry_over,
            CarryOverInput(
                journey_id=self._id,
                lead_id=lead_id,
                product=product,
                events_since=now - event_horizon(scenario.scoring),
            ),
            summary="read the closed journey's history",
        )
        member_of = await self._member_of(scenario.entry_segments())
        track = scenario.entry_track_for(self._profile, member_of)
        self._m = carry_over.restarted_memory(scenario, carried, track, now)
        self._say_unsaid()
        closed = f"run {restart.closed_run_id}" if restart.closed_run_id else "its earlier run"
        self._note(
            "start",
            f"journey restarted: {closed} closed ({carried.lifecycle or 'no lifecycle'}); "
            f"{len(carried.events)} events, {carried.emails_sent} emails and the steps had "
            f"carried; on track '{track}' (scenario {scenario.version})",
        )
        if self._input.origin == "sales":
            await self._set_start_lifecycle()
        elif carried.lifecycle != "nurturing":  # a lost deal, a lead sales had: back to us
            await self._set_lifecycle("nurturing", actor="journey", reason="journey restarted")
        if self._current_step() is None:  # it had the whole track: its `then` applies
            self._track_complete()
        if self._mem.ended_reason is None:
            await self._reevaluate(None)

    async def _wait(self, now: datetime, due: datetime | None) -> None:
        """Sleep until the next touch, a decay-driven stage change, an SLA email, or exit;
        behaviour, feedback and commands wake it early."""
        if self._send_due_sla_notice(now):
            return
        wake_at, summary = self._next_wake_up(now, due)
        self._publish()
        self._woken = False
        self._between_steps = True
        try:
            if self._version(patches.KEEP_STEP_TIMER):
                await self._wait_on_timer(now, wake_at, summary)
            else:
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._woken,
                    timeout=max(wake_at - now, MIN_WAIT),
                    timeout_summary=summary,
                )
        except TimeoutError:
            self._between_steps = False
            await self._reevaluate(None)
        finally:
            self._between_steps = False

    async def _wait_on_timer(self, now: datetime, wake_at: datetime, summary: str) -> None:
        """Wait as a `wait_condition` with a timeout does (TimeoutError when the time comes
        first), but on a timer kept across waits while `wake_at` stays put: behaviour that
        does not move the next wake-up costs no timer commands."""
        timer = self._timer
        if timer is None or timer.wake_at != wake_at or timer.fired.done():
            self._drop_timer()
            sleep = workflow.sleep(max(wake_at - now, MIN_WAIT), summary=summary)
            timer = self._timer = StepTimer(wake_at, asyncio.ensure_future(sleep))
        fired = timer.fired
        await workflow.wait_condition(lambda: bool(self._inbox) or self._woken or fired.done())
        # A handler that woke the journey may still be finishing what it started (an
        # unsubscribe ending the journey): let it run first, as a wait with a timeout did.
        await asyncio.sleep(0)
        if fired.done():  # the time came, even if behaviour came with it (as before)
            self._timer = None
            raise TimeoutError

    def _drop_timer(self) -> None:
        """Cancel the kept timer, if one is still running (the journey ends or moves on)."""
        if self._timer is not None and not self._timer.fired.done():
            self._timer.fired.cancel()
        self._timer = None

    def _next_wake_up(self, now: datetime, due: datetime | None) -> tuple[datetime, str]:
        """What the journey waits for next, and the timer's summary saying so."""
        m = self._mem
        if rules.nurtured(m):
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
        if m.reentry_at is not None and m.reentry_at < wake_at:
            wake_at, summary = m.reentry_at, narrative.reentry_wait(m.reentry_at)
        if m.broadcasts:
            held = min(m.broadcasts, key=lambda b: b.due)
            if held.due < wake_at:
                wake_at = held.due
                summary = f"wait to send broadcast '{held.delivery.broadcast_id}'"
        watch = m.watch
        if watch is not None and watch.due < wake_at:
            wake_at = watch.due
            summary = narrative.engagement_wait(watch.step_key, watch.due)
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

    async def _send_step(self) -> None:
        m = self._mem
        step = self._current_step()
        assert step is not None
        track = m.track
        key = f"{track}#{m.track_entries}/{step.key}"
        if step.mail_type in m.suppressed_mail_types:
            self._note("email", f"skipped step '{step.key}': lead opted out of {step.mail_type}")
        elif step.only_if is not None and not step.only_if.holds(
            self._profile, await self._member_of(step.only_if.segments())
        ):
            self._note("track", f"passed over step '{step.key}': its only_if does not hold")
        else:
            what = narrative.step_what(m.step_index, self._steps_on_track, step.key, track)
            variant_key = f"{track}/{step.key}"
            result = await self._send_touch(key, step, step.mail_type, variant_key, what)
            if result is not None and result.status == "deferred":
                m.deferred_until = result.retry_at  # the weekly cap or an outage: same step
                return
            if isinstance(result, SendEmailResult) and result.status == "sent":
                self._watch_for_engagement(step, key, track, result.send_id)
        m.steps_sent.setdefault(track, []).append(step.key)
        if m.track != track:
            return  # sales feedback moved the lead while the email was going out
        m.step_index = rules.next_step_index(m)
        m.step_anchor = workflow.now()
        self._clear_deferral()
        if self._current_step() is None:
            self._track_complete()

    async def _member_of(self, segments: set[str]) -> frozenset[str]:
        """Which of these segments the lead is in now, asked of the store (recorded in
        history); no segments named, no question asked."""
        if not segments:
            return frozenset()
        found = await calls.local(
            SegmentActivities.segment_membership,
            SegmentMembershipInput(lead_id=self._input.lead_id, segments=sorted(segments)),
            summary=f"is the lead in {', '.join(sorted(segments))}?",
        )
        if found.problem is not None:
            self._unsaid.append(f"segments taken as not a member: {found.problem}")
            if self._m is not None:  # (a journey starting notes it once its memory exists)
                self._say_unsaid()
        return frozenset(found.segments)

    def _say_unsaid(self) -> None:
        for text in self._unsaid:
            self._note("note", text)
        self._unsaid.clear()

    def _watch_for_engagement(self, step: Step, key: str, track: str, send_id: str) -> None:
        """A step with `unless_engaged`: its follow-up is due unless a person responds."""
        rule = step.unless_engaged
        if rule is None:
            return
        _, template = step.variants()[self._mem.variants.get(key, 0)]
        self._mem.watch = EngagementWatch(
            send_id=send_id,
            key=key,
            track=track,
            step_key=step.key,
            mail_type=step.mail_type,
            template=template,
            due=workflow.now() + rule.within,
            resend=rule.resend,
            switch_to=rule.track,
        )

    async def _no_response(self) -> None:
        """No person opened or clicked the watched email in time: its follow-up."""
        m = self._mem
        watch, m.watch = m.watch, None
        assert watch is not None
        if not rules.nurtured(m) or m.paused or m.email_stopped:
            return
        what = f"step '{watch.step_key}' on {watch.track}"
        if watch.switch_to is not None:
            self._switch_track(watch.switch_to, f"no open or click of {what}")
            return
        self._note("email", f"no open or click of {what}: sending it again")
        await self._send_email(
            key=f"{watch.key}~resend",
            mail_type=watch.mail_type,
            variants=[(watch.resend or "", watch.template)],
            variant_key=f"{watch.track}/{watch.step_key}~resend",
            what=f"{what}, again",
        )

    def _heard_from(self, event: BehaviorEvent) -> None:
        """A person's open or click of the watched email: no follow-up."""
        watch = self._mem.watch
        if watch is None or event.type not in (EMAIL_OPEN, EMAIL_CLICK) or event.machine_open:
            return
        if event.properties.get("send_id") == watch.send_id:
            self._mem.watch = None
            self._note("email", f"{event.type} of step '{watch.step_key}': no follow-up needed")

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
        m.watch = None  # the path moved on: its last email's follow-up with it
        m.track = track
        m.track_entries += 1
        self._clear_deferral()
        steps = self._scenario.tracks[track].steps
        m.step_index = rules.first_unsent_step(steps, m.steps_sent.get(track, []))
        m.step_anchor = workflow.now()
        self._woken = True
        if m.step_index == len(steps):
            self._track_complete(hops)

    async def _send_touch(
        self,
        key: str,
        touch: Touch,
        mail_type: MailType,
        variant_key: str,
        what: str,
        event: dict[str, Any] | None = None,
        broadcast_id: str | None = None,
    ) -> SendEmailResult | SendLineResult | SendWebhookResult | None:
        """A step's or a trigger's message on its channel: a webhook's POST; LINE for a lead
        on LINE, else the email (`fallback: email`) or nothing (`fallback: none`); or the
        email. A lead in the control group (`holdout`) gets none of them."""
        if self._in_holdout():
            self._note("holdout", f"control group: no message for {what}")
            return None
        if touch.channel == "webhook":
            return await self._post_webhook(key, touch, mail_type, what, event)
        if touch.channel == "line":
            line_key = rules.line_send_key(key)
            pushed = await self._send_line(line_key, touch, mail_type, what, event, broadcast_id)
            if pushed is None or pushed.status != "unlinked":
                return pushed
            if touch.fallback == "none":
                self._note("line", f"skipped {what}: the lead is not on LINE (fallback: none)")
                return pushed
            self._note("line", f"{what}: the lead is not on LINE; sending the email instead")
        return await self._send_email(
            key=key,
            mail_type=mail_type,
            variants=touch.variants(),
            variant_key=variant_key,
            what=what,
            event=event,
            broadcast_id=broadcast_id,
        )

    def _in_holdout(self) -> bool:
        share = self._scenario.holdout
        return share > 0 and in_holdout(self._input.lead_id, self._input.product, share)

    async def _post_webhook(
        self,
        key: str,
        touch: Touch,
        mail_type: MailType,
        what: str,
        event: dict[str, Any] | None,
    ) -> SendWebhookResult | SendEmailResult | None:
        call = touch.webhook
        assert call is not None  # a webhook touch has its call (nurture/scenario/model.py)
        request = SendWebhookInput(
            **self._channel_send(key, mail_type, call.template, event),
            step=touch.key,
            url=call.url,
        )
        try:
            result = await calls.bounded(
                StepWebhookActivities.post_step_webhook,
                request,
                bound=SEND_BOUND,
                summary=f"webhook {what}",
            )
        except ActivityError as err:
            if calls.outlasted(err) and mail_type != "trigger":  # a trigger is timely or nothing
                return self._provider_unavailable(what, err, channel="the step's webhook")
            self._note("webhook", f"could not post {what}: {err.cause or err}")
            return None
        said = "posted" if result.status == "sent" else f"not posted ({result.detail})"
        self._note("webhook", f"{said} {what}")
        return result

    async def _send_line(
        self,
        key: str,
        touch: Touch,
        mail_type: MailType,
        what: str,
        event: dict[str, Any] | None,
        broadcast_id: str | None = None,
    ) -> SendLineResult | SendEmailResult | None:
        m, line = self._mem, touch.line
        assert line is not None  # a LINE touch has its message (nurture/scenario/model.py)
        message = SendLineInput(
            **self._channel_send(key, mail_type, line.template, event, broadcast_id),
            alt_text=line.alt_text,
        )
        try:
            result = await calls.bounded(
                LineActivities.send_line, message, bound=SEND_BOUND, summary=f"LINE {what}"
            )
        except ActivityError as err:
            if calls.outlasted(err) and broadcast_id is not None:
                return self._broadcast_outage(what, "LINE")
            if calls.outlasted(err) and mail_type != "trigger":  # a trigger is timely or nothing
                return self._provider_unavailable(what, err, channel="LINE")
            self._note("line", f"could not send {what} on LINE: {err.cause or err}")
            return None
        if result.status == "sent":
            self._note("line", f"sent {what} on LINE")
        elif result.status == "deferred":
            if broadcast_id is None:
                m.deferred_why = None
            self._note("line", f"deferred {what} on LINE: {result.detail}")
        elif result.status == "suppressed":
            self._note("line", f"not sent {what} on LINE: {result.detail}")
        return result

    async def _send_email(
        self,
        *,
        key: str,
        mail_type: MailType,
        variants: list[tuple[str, str]],
        variant_key: str,
        what: str,
        event: dict[str, Any] | None = None,
        broadcast_id: str | None = None,
    ) -> SendEmailResult | None:
        m = self._mem
        variant = assign_variant(
            self._input.lead_id, self._input.product, variant_key, len(variants)
        )
        if len(variants) > 1 and self._promotes_winners():
            variant = await self._winner_or(variant, variant_key, len(variants))
        letter = f"variant {narrative.variant_letter(variant)}" if len(variants) > 1 else ""
        try:
            result = await calls.bounded(
                EmailActivities.send_email,
                self._email_input(key, mail_type, variants[variant], variant, event, broadcast_id),
                bound=SEND_BOUND,
                summary=f"send {what}" + (f" ({letter})" if letter else ""),
            )
        except ActivityError as err:
            if calls.outlasted(err) and broadcast_id is not None:
                return self._broadcast_outage(what, "email provider")
            if calls.outlasted(err) and mail_type != "trigger":
                return self._provider_unavailable(what, err)
            self._note("email", f"could not send {what}: {err.cause or err}")
            return None
        if result.status == "suppressed":
            self._note("email", f"not sent {what}: {result.detail}")
            return result
        if result.status == "deferred":
            assert result.retry_at is not None
            if broadcast_id is None:
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

    def _promotes_winners(self) -> bool:
        """Whether this journey's scenario sends an A/B test's winner once there is one."""
        return self._scenario.ab.then == "promote" and self._version(patches.AB_PROMOTE)

    async def _winner_or(self, assigned: int, variant_key: str, count: int) -> int:
        """The step's A/B winner if its test has one (recorded in history), else `assigned`."""
        track, step = rules.step_of(variant_key)
        winner = await calls.local(
            AbActivities.ab_winner,
            AbWinnerInput(product=self._input.product, track=track, step=step),
            summary=f"which variant of {track}/{step} has won its A/B test",
        )
        if winner.variant is None or not 0 <= winner.variant < count:
            return assigned
        if winner.variant != assigned:
            letter = narrative.variant_letter(winner.variant)
            self._note("email", f"{track}/{step}: variant {letter} won its A/B test; sending it")
        return winner.variant

    def _email_input(
        self,
        key: str,
        mail_type: MailType,
        chosen: tuple[str, str],
        variant: int,
        event: dict[str, Any] | None = None,
        broadcast_id: str | None = None,
    ) -> SendEmailInput:
        subject, template = chosen
        return SendEmailInput(
            **self._channel_send(key, mail_type, template, event, broadcast_id),
            subject=subject,
            variant=variant,
        )

    def _channel_send(
        self,
        key: str,
        mail_type: MailType,
        template: str,
        event: dict[str, Any] | None,
        broadcast_id: str | None = None,
    ) -> dict[str, Any]:
        """What every send carries, on any channel (activities/channel_sends.py); a
        broadcast's is rendered from its own frozen templates."""
        extra = {"broadcast_id": broadcast_id} if broadcast_id is not None else {}
        return extra | {
            "brand": self._scenario.brand,
            "scenario_version": self._scenario.version,
            "journey_id": self._id,
            "lead_id": self._input.lead_id,
            "product": self._input.product,
            "send_key": key,
            "mail_type": mail_type,
            "template": template,
            "journey_time": workflow.now(),
            "journey": self._template_journey(key),
            "event": event,
        }

    def _template_journey(self, key: str) -> dict[str, object]:
        """What a template may know of the journey (`{{ journey.stage }}`, ...)."""
        m = self._mem
        return {
            "stage": m.stage,
            "score": self._score.total,
            "track": m.track,
            "step": key,
            "lifecycle": m.lifecycle,
        }

    def _provider_unavailable(
        self, what: str, err: ActivityError, channel: str = "email provider"
    ) -> SendEmailResult | None:
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
        detail = m.deferred_why = f"{channel} unavailable ({last or err.cause})"
        self._note("email", f"deferred {what} to {outage.retry_at:%Y-%m-%d %H:%M}: {detail}")
        return SendEmailResult(
            send_id="", status="deferred", retry_at=outage.retry_at, detail=detail
        )

    async def _process_inbox(self) -> None:
        events, self._inbox = self._inbox, []
        if len(events) > INBOX_SLICE and workflow.patched(patches.BOUNDED_REPLAY):
            # A backlog (a flood of behaviour, signals that piled up while the worker was
            # busy) is taken a slice per workflow task: all of it in one would keep the task
            # past the SDK's 2 s deadlock check, and every retry would find more.
            events, self._inbox = events[:INBOX_SLICE], events[INBOX_SLICE:]
            await self._process_events(events)
            await workflow.sleep(SLICE_PAUSE)  # ends this workflow task
            return
        await self._process_events(events)

    async def _process_events(self, events: list[BehaviorEvent]) -> None:
        m = self._mem
        seen = self._seen()
        for event in events:
            if m.ended_reason is not None:
                break
            if event.event_id in seen:
                continue
            m.seen_event_ids.append(event.event_id)
            seen.add(event.event_id)
            if rules.concerns_another_product(event, self._input.product):
                self._note("event", f"ignored {event.type}: it concerns '{event.product}'")
                continue
            m.events.append(event)
            self._taken += 1
            if len(m.events) > EVENTS_PRUNED_AT and workflow.patched(patches.BOUNDED_REPLAY):
                m.events = prune_events(m.events, workflow.now(), self._scenario)
            self._note("event", narrative.describe(event))
            self._heard_from(event)
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
        before, score_before = m.stage, self._score
        self._score = self._compute_score()
        m.stage = stage_for(self._score.total, scenario.stages)
        if m.stage != before:
            self._note("stage", f"{before} → {m.stage} (score {self._score.total})")
        if m.stage != before or m.stage_moves == 0:
            self._stage_moved(before)
        met = rules.patterns_newly_met(score_before, self._score, scenario)
        exit_reason = rules.exit_reason(scenario, event, m.stage, before, met, self._profile)
        if exit_reason is not None:
            self._end(exit_reason)
            return
        goal = rules.goal_reached(scenario, event, None, m.goals_reached)
        if goal is not None and await self._reach_goal(goal, event.type if event else ""):
            return
        if await self._maybe_hand_off():
            return
        branch = rules.branch_to(scenario, event, m.stage, before, m.track, self._profile, met)
        if branch is not None:
            self._switch_track(*branch)
        for trigger in scenario.triggers:
            cause = rules.trigger_cause(trigger, event, m.stage, before, met)
            if cause is None or not rules.for_lead(trigger.only_if, self._profile):
                continue
            if rules.trigger_allowed(m, trigger, workflow.now()):
                await self._fire_trigger(trigger, event, cause)

    def _queue_lifecycle_triggers(self, to: str) -> None:
        """Note a lifecycle move for the triggers waiting for it (when there are any)."""
        if any(t.when.lifecycle == to for t in self._scenario.triggers):
            self._mem.lifecycle_moves.append(to)
            self._woken = True

    async def _lifecycle_triggers(self) -> None:
        """Triggers on a lifecycle move (`when: {lifecycle: recycled}`), fired here by the
        main loop: the feedback update that made the move must not wait for a message."""
        m = self._mem
        moves, m.lifecycle_moves = m.lifecycle_moves, []
        for moved_to in moves:
            for trigger in self._scenario.triggers:
                cause = rules.trigger_cause(trigger, None, m.stage, m.stage, set(), moved_to)
                if cause is None or not rules.for_lead(trigger.only_if, self._profile):
                    continue
                if rules.trigger_allowed(m, trigger, workflow.now()):
                    await self._fire_trigger(trigger, None, cause)

    async def _fire_trigger(
        self, trigger: Trigger, event: BehaviorEvent | None, cause: str
    ) -> None:
        """Send the trigger's message; its templates get `event`, what fired it (for a
        stage or pattern trigger, the event that tipped it, if any)."""
        m = self._mem
        count = m.trigger_counts.get(trigger.key, 0) + 1
        m.trigger_fired_at[trigger.key] = workflow.now()
        m.trigger_counts[trigger.key] = count
        self._note("trigger", f"trigger '{trigger.key}' fired by {cause}")
        await self._send_touch(
            f"trigger:{trigger.key}#{count}",
            trigger,
            "trigger",
            f"trigger:{trigger.key}",
            f"trigger '{trigger.key}' ← {cause}",
            event.for_template() if event is not None else None,
        )

    async def _stop_email(
        self, why: Lifecycle, *, actor: str, reason: str, asked_at: datetime | None = None
    ) -> None:
        """Unsubscribe or bounce: no more email, recorded in the store's suppressions. While
        sales owns the lead the journey stays open for sales feedback; otherwise it ends (a
        lead still waiting for sales capacity has not reached sales: it ends too)."""
        m = self._mem
        m.email_stopped = why
        scope = "global" if why == "bounced" else "product"
        if m.lifecycle in SALES_OWNED and not m.handoff_queued:
            self._note("unsubscribe", f"email stopped ({why}: {reason}); sales still owns the lead")
            transition = None
        elif m.lifecycle == "customer":  # nurtured after the win: it stays a customer
            transition = None
            self._end(f"{why}: {reason}")
        else:
            transition = self._move(why, actor=actor, reason=reason)
            self._end(f"{why}: {reason}")
        await self._suppress(scope, None, reason, asked_at)
        if transition is not None:
            await self._record(transition)

    def _seen(self) -> set[str]:
        """The ids in `seen_event_ids` as a set (empty until the memory is loaded)."""
        if self._m is None:
            return set()
        if self._seen_ids is None:
            self._seen_ids = set(self._m.seen_event_ids)
        return self._seen_ids

    @workflow.signal(name="behavior")
    def behavior(self, event: BehaviorEvent) -> None:
        """Queue the event; the journey processes it in order. Repeated event ids are ignored."""
        if event.event_id in self._queued_ids or event.event_id in self._seen():
            return
        self._queued_ids.add(event.event_id)
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

    @workflow.signal(name="profile")
    async def profile(self, profile: LeadProfile) -> None:
        """The lead's profile changed (a new title, an enrichment): it is rescored, and the
        conditions on who the lead is (branches, exits, `only_if`) are judged anew."""
        await self._ready()
        m = self._mem
        if m.ended_reason is not None or profile == self._profile:
            return
        self._note(
            "profile", f"profile updated: {narrative.profile_change(self._profile, profile)}"
        )
        m.profile = profile
        m.rescore_pending = True
        self._woken = True

    @workflow.signal(name="stop")
    async def stop(self, request: StopJourney) -> None:
        """End the journey (an operator's bulk stop): no more email; the lifecycle stays."""
        await self._ready()
        if self._mem.ended_reason is None:
            self._end(f"stopped: {request.reason}")

    @workflow.signal(name="unsubscribe")
    async def unsubscribe(self, request: Unsubscribe) -> None:
        """All email stops at once; a mail-type scope only stops those types."""
        await self._ready()
        m = self._mem
        # a closed deal to be nurtured again, or a customer nurtured: still on the list
        nurtured_again = m.reentry_at is not None or m.customer_nurtured
        if (m.lifecycle in TERMINAL and not nurtured_again) or m.ended_reason is not None:
            return
        if request.mail_types is None:
            await self._stop_email(
                "unsubscribed", actor="lead", reason=request.reason, asked_at=request.at
            )
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
            self._queue_lifecycle_triggers(target)
        elif target == "lost" and self._scenario.on_lost is not None:
            self._cool_off(self._scenario.on_lost, "lost deal")
        elif target == "customer" and self._scenario.on_customer is not None:
            self._cool_off(self._scenario.on_customer, "won deal")
        elif target in TERMINAL:
            self._end(f"sales: {reason}")
        for transition in transitions:
            await self._record(transition)
        goal = rules.goal_reached(self._scenario, None, target, m.goals_reached)
        if goal is not None:
            await self._reach_goal(goal, f"sales feedback: {feedback.outcome}")
        return self._state()

    async def _reach_goal(self, goal: Goal, cause: str) -> bool:
        """Record the conversion; end the journey when the goal says so (returns True)."""
        m = self._mem
        m.goals_reached.append(goal.name)
        await calls.local(
            ConversionActivities.record_conversion,
            ConversionInput(
                journey_id=self._id,
                lead_id=self._input.lead_id,
                product=self._input.product,
                goal=goal.name,
                journey_time=workflow.now(),
            ),
            summary=f"record goal '{goal.name}'",
        )
        self._note("goal", f"goal '{goal.name}' reached ({cause})")  # once it is recorded
        if goal.then == "end" and m.ended_reason is None:
            self._end(f"goal '{goal.name}' reached")
            return True
        return False

    def _cool_off(self, rule: Reentry, what: str) -> None:
        """A closed deal rests, then is nurtured again (`on_lost`, `on_customer`) instead
        of ending."""
        m = self._mem
        m.reentry_at = workflow.now() + rule.after
        self._note(
            "lifecycle", f"{what}: nurtured again from {m.reentry_at:%Y-%m-%d} on '{rule.track}'"
        )

    def _nurture_customer(self, rule: Reentry) -> None:
        """A won deal's rest is over: the customer is nurtured on the `on_customer` track
        (onboarding, cross-sell); it stays a customer and is never handed off again."""
        m = self._mem
        m.customer_nurtured = True
        m.nurtured_again_at = workflow.now()
        self._switch_track(rule.track, f"customer nurtured after {format_duration(rule.after)}")

    async def _reenter(self) -> None:
        """The rest of a closed deal is over: nurturing again on its track."""
        m = self._mem
        m.reentry_at = None
        if m.lifecycle == "customer" and self._scenario.on_customer is not None:
            self._nurture_customer(self._scenario.on_customer)
            return
        rule = self._scenario.on_lost
        if rule is None or m.lifecycle != "lost":
            return
        reason = f"lost deal nurtured again after {format_duration(rule.after)}"
        transition = self._move("recycled", actor="journey", reason=reason)
        m.nurtured_again_at = workflow.now()
        keep = self._scenario.handoff.recycle.keep_behavior
        m.discount = Discount(before=workflow.now(), keep=keep)
        self._switch_track(rule.track, reason)
        self._queue_lifecycle_triggers("recycled")
        self._score = self._compute_score()
        before = m.stage
        m.stage = stage_for(self._score.total, self._scenario.stages)
        if m.stage != before:
            self._stage_moved(before)
        await self._record(transition)

    def _recycle(self) -> None:
        """Back to nurturing on the recycle track, behaviour before now discounted."""
        m = self._mem
        recycle = self._scenario.handoff.recycle
        m.discount = Discount(before=workflow.now(), keep=recycle.keep_behavior)
        self._switch_track(recycle.track, "recycled by sales")
        self._score = self._compute_score()
        before = m.stage
        m.stage = stage_for(self._score.total, self._scenario.stages)
        if m.stage != before:
            self._stage_moved(before)

    @sales_feedback.validator
    def _check_feedback(self, feedback: SalesFeedback) -> None:
        if self._m is None:
            raise ValueError("the journey is still starting; retry in a moment")
        if self._m.ended_reason is not None:
            raise ValueError(f"the journey has ended ({self._m.ended_reason})")
        if feedback.handoff_no is not None and feedback.handoff_no != self._m.handoffs:
            raise ValueError(
                f"this answers hand-off #{feedback.handoff_no}, but the lead's current "
                f"hand-off is #{self._m.handoffs}"
            )
        feedback_target(self._m.lifecycle, feedback.outcome)

    @workflow.update(name=BROADCAST_UPDATE)
    async def broadcast(self, delivery: BroadcastDelivery) -> BroadcastAnswer:
        """Send a broadcast through this journey (`Broadcast`, workflows/broadcast.py): at
        its time, inside the send window, through the same gate as every email; once."""
        m, name = self._mem, delivery.broadcast_id
        if name in m.broadcasts_had:
            return BroadcastAnswer(outcome="already", detail="the journey had this broadcast")
        m.broadcasts_had.append(name)
        del m.broadcasts_had[:-BROADCASTS_KEPT]
        why = self._broadcast_skip()
        if why is not None:
            self._note("broadcast", f"broadcast '{name}' not sent: {why}")
            return BroadcastAnswer(outcome="skipped", detail=why)
        held = broadcasts.pending(
            delivery, self._scenario.send_window, self._profile.timezone, workflow.now()
        )
        if held.expires_at <= workflow.now():
            why = f"expired ({format_duration(delivery.expires_after)} after its time)"
            self._note("broadcast", f"broadcast '{name}' not sent: {why}")
            return BroadcastAnswer(outcome="skipped", detail=why)
        m.broadcasts.append(held)
        self._note("broadcast", f"broadcast '{name}' to go at {held.due:%Y-%m-%d %H:%M} UTC")
        self._woken = True
        return BroadcastAnswer(outcome="queued", due=held.due)

    @broadcast.validator
    def _check_broadcast(self, delivery: BroadcastDelivery) -> None:
        if self._m is None:
            raise ValueError("the journey is still starting; retry in a moment")

    def _broadcast_outage(self, what: str, channel: str) -> SendEmailResult:
        """The provider stayed away for the whole send bound: the broadcast is tried an
        hour later (until it expires); a step's outage clock is left alone."""
        retry_at = workflow.now() + BROADCAST_OUTAGE_RETRY
        self._note("email", f"{what}: {channel} unavailable; trying at {retry_at:%H:%M}")
        return SendEmailResult(send_id="", status="deferred", retry_at=retry_at)

    def _broadcast_skip(self) -> str | None:
        m = self._mem
        why = broadcasts.skip_reason(
            lifecycle=m.lifecycle,
            paused=m.paused,
            email_stopped=m.email_stopped,
            ended=m.ended_reason,
        )
        if why is None and self._in_holdout():
            why = "the lead is in the control group (holdout)"
        return why

    async def _send_broadcast(self) -> None:
        """The broadcast due first; held back again by the cap or an outage until it
        expires. A lead that has since moved on (paused, sales' now, unsubscribed) is
        skipped, and the timeline says why."""
        m = self._mem
        held = min(m.broadcasts, key=lambda b: b.due)
        m.broadcasts.remove(held)
        delivery, name = held.delivery, held.delivery.broadcast_id
        why = self._broadcast_skip()
        if why is not None:
            self._note("broadcast", f"broadcast '{name}' not sent: {why}")
            return
        key = send_key(name)
        result = await self._send_touch(  # as a step goes: LINE with its fallback, or email
            key, broadcasts.as_touch(delivery), delivery.mail_type, key, f"broadcast '{name}'",
            broadcast_id=name,
        )  # fmt: skip
        if result is None or result.status != "deferred" or result.retry_at is None:
            return
        again = broadcasts.deferred(held, result.retry_at)
        if again is None:
            self._note("broadcast", f"broadcast '{name}' dropped: held back past its expiry")
        else:
            m.broadcasts.append(again)

    @workflow.update(name="scenario_update")
    async def scenario_update(self, request: ScenarioUpdate) -> VersionMoveResult:
        """Continue on another version of the scenario (`nurture rollout`): same track and
        step where the version still has them, no step sent twice, rescored under its rules."""
        result = await self._take_version(request)
        m = self._mem
        if m.ended_reason is None and rules.nurtured(m) and self._current_step() is None:
            self._track_complete()  # past the track's last step: its `then` applies
        return result

    @scenario_update.validator
    def _check_scenario_update(self, request: ScenarioUpdate) -> None:
        refused = refusal(self._m, request.version)
        if refused is not None:
            raise ApplicationError(refused.why, type=refused.type, non_retryable=True)

    @workflow.query(name="scenario_update_preview")
    def scenario_update_preview(self, new: Scenario) -> VersionMoveResult:
        """What `scenario_update` to `new` would do now (the rollout's dry run); no change."""
        return self._preview_version(new)

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        if self._m is None:
            raise RuntimeError("the journey is still loading its scenario")
        return self._state()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_length
        )

    def _replay_is_long(self) -> bool:
        """Past REPLAY_HISTORY_LIMIT history events, or EVENTS_PER_RUN behaviour events taken
        (each rescored: a relay's signal carries up to 100 in ~5 history events), a worker
        that lost the journey from its cache could no longer replay it within the workflow
        task timeout (patches.BOUNDED_REPLAY). A backlog bigger than CARRY_LIMIT is worked
        down first: the next run's input must stay well under Temporal's payload limit."""
        length = workflow.info().get_current_history_length()
        long = length >= REPLAY_HISTORY_LIMIT or self._taken >= EVENTS_PER_RUN
        return long and len(self._inbox) <= CARRY_LIMIT and workflow.patched(patches.BOUNDED_REPLAY)

    async def _continue_as_new(self) -> None:
        """Start a fresh history carrying everything, once no handler is mid-flight. Work
        beside the journey (CRM posts, sales emails) is carried in memory and picked up by
        the next run; before that version, the journey waited for it here."""
        if not self._version(patches.CARRY_BACKGROUND):
            await self._finish_background()
        self._between_steps = True  # a scenario update may land now; memory carries it
        await workflow.wait_condition(workflow.all_handlers_finished)
        m = self._mem
        if workflow.patched(patches.BOUNDED_REPLAY):
            m.events = prune_events(m.events, workflow.now(), self._scenario)
        else:
            m.events = relevant_events(m.events, workflow.now(), self._scenario.scoring)
        del m.seen_event_ids[:-SEEN_IDS_KEPT]
        workflow.continue_as_new(
            self._input.model_copy(update={"memory": m, "pending_events": self._inbox})
        )
