"""What every part of LeadJourney shares: its memory and score, the timeline, lifecycle
moves and their records, suppressions, work beside the journey, its search attributes, the
card, and the `state` it answers with.

LeadJourney (workflows/lead_journey.py) runs the journey on top of this; the hand-off to
sales (workflows/handoff.py) sits between them. Nothing here waits on a timer: it reads
the journey's memory, or records what the journey decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls, patches

with workflow.unsafe.imports_passed_through():
    from activities.stages import StageActivities
    from activities.suppression import SuppressionActivities, SuppressionInput
    from activities.transitions import TransitionActivities, TransitionInput
    from nurture.handoff.sla import SlaNotice, next_sla_notice
    from nurture.journey import narrative, rules
    from nurture.journey import search_attributes as sa
    from nurture.journey.contract import (
        TIMELINE_LENGTH,
        JourneyInput,
        JourneyMemory,
        JourneyState,
        StageMove,
        TimelineEntry,
    )
    from nurture.journey.lifecycle import Lifecycle
    from nurture.leads.profile import LeadProfile
    from nurture.scenario.durations import format_duration
    from nurture.scenario.model import Scenario, Stage, Step
    from nurture.schedule.send_window import next_send_time
    from nurture.scoring.score import ScoreBreakdown, score_lead

# A stage move's record waits this long for the store. No journey waits for it (it runs
# beside the journey); past the bound the move is only in the journey's timeline.
STAGE_RECORD_BOUND = timedelta(days=7)


class JourneyBase:
    """The journey's state and bookkeeping; `LeadJourney.__init__` sets every attribute."""

    _input: JourneyInput
    _id: str
    _m: JourneyMemory | None
    _woken: bool
    _optimise_send_time: bool
    _score: ScoreBreakdown
    _background: list[asyncio.Task[None]]
    _published: dict[str, object]

    def _current_step(self) -> Step | None:
        return rules.current_step(self._scenario, self._mem)

    @property
    def _profile(self) -> LeadProfile:
        """Who the lead is: as it started, or as a `profile` signal last said."""
        m = self._m
        return m.profile if m is not None and m.profile is not None else self._input.profile

    def _next_touch(self, now: datetime) -> datetime | None:
        """When the next step email goes out, or None when nurture email is off."""
        m = self._mem
        step = self._current_step()
        if step is None or m.paused or m.email_stopped or not rules.nurtured(m):
            return None
        return next_send_time(
            rules.step_due(m, step, now),
            self._scenario.send_window,
            self._profile.timezone,
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
        role_hour = self._scenario.role_send_hours.get(self._profile.role or "other")
        return rules.send_hour(self._scenario.send_window, self._mem.open_hours, role_hour)

    @property
    def _timezone(self) -> str:
        window = self._scenario.send_window
        return self._profile.timezone or (window.timezone if window else "UTC")

    def _step_wait_summary(self, due: datetime) -> str:
        step = self._current_step()
        assert step is not None
        return narrative.step_wait(self._mem, step, self._steps_on_track, due)

    @property
    def _steps_on_track(self) -> int:
        return len(self._scenario.tracks[self._mem.track].steps)

    def _compute_score(self, at: datetime | None = None) -> ScoreBreakdown:
        m = self._mem
        return score_lead(
            self._profile,
            m.events,
            at or workflow.now(),
            m.scenario,
            sent_ids=m.sent_ids,
            discount=m.discount,
        )

    def _next_sla_notice(self) -> tuple[datetime, SlaNotice] | None:
        """The SLA email due next while the current hand-off awaits sales feedback."""
        m = self._mem
        if m.lifecycle != "handed_off" or m.handed_off_at is None or m.ended_reason:
            return None
        return next_sla_notice(self._scenario, m.handed_off_at, m.sla_notices)

    def _beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the journey (the CRM post, the owner's email)."""
        self._background.append(asyncio.create_task(work))

    async def _finish_background(self) -> None:
        if self._background:
            await asyncio.gather(*self._background)
            self._background.clear()

    def _stage_moved(self, before: Stage | None) -> None:
        """Record the journey's stage in the store, beside the journey: a move from `before`,
        or (None) the stage it starts in. Kept in memory until recorded, so a run that
        continues as new records it again (once: the record is idempotent)."""
        # Asked per run, not kept in memory like `_version`: a journey already running at
        # deploy replays its history with False here, and keeping that would leave it
        # unrecorded for good; its next run (after continue-as-new) starts recording.
        if not workflow.patched(patches.STAGE_MOVES):
            return
        m = self._mem
        m.stage_moves += 1
        move = StageMove(
            journey_id=self._id,
            seq=m.stage_moves,
            lead_id=self._input.lead_id,
            product=self._input.product,
            from_stage=before if m.stage_moves > 1 else None,
            to_stage=m.stage,
            score=self._score.total,
            track=m.track,
            journey_time=workflow.now(),
        )
        m.pending_stage_moves.append(move)
        self._beside(self._record_stage_move(move))

    async def _record_stage_move(self, move: StageMove) -> None:
        pending = self._mem.pending_stage_moves
        try:
            await calls.bounded(
                StageActivities.record_stage_move,
                move,
                bound=STAGE_RECORD_BOUND,
                summary=f"record stage {move.from_stage or 'start'} → {move.to_stage}",
            )
        except ActivityError as err:
            self._note("note", f"stage move #{move.seq} not recorded: {err.cause or err}")
        finally:
            if move in pending:
                pending.remove(move)

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

    async def _suppress(
        self,
        scope: str,
        mail_types: list[str] | None,
        reason: str,
        asked_at: datetime | None = None,
    ) -> None:
        await calls.local(
            SuppressionActivities.record_suppression,
            SuppressionInput(
                lead_id=self._input.lead_id,
                product=self._input.product,
                scope=scope,
                mail_types=mail_types or [],
                reason=reason,
                asked_at=asked_at,
            ),
            summary=f"suppress {scope} email: {reason}",
        )

    def _end(self, reason: str) -> None:
        self._mem.ended_reason = reason
        self._note("exit", reason)
        self._woken = True
        self._publish()

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
        """The journey's maximum age, counted from its start, or from when a closed deal's
        nurturing began again (`on_lost`, `on_customer`)."""
        m = self._mem
        return (m.nurtured_again_at or m.started_at) + self._scenario.exit.after

    def _note(self, kind: str, text: str) -> None:
        timeline = self._mem.timeline
        timeline.append(TimelineEntry(at=workflow.now(), kind=kind, text=text))
        del timeline[:-TIMELINE_LENGTH]
        workflow.set_current_details(self._card())  # metadata, not a command: always current

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

    @property
    def _sales_timezone(self) -> str:
        """Sales works in the scenario's timezone (the lead's may differ)."""
        window = self._scenario.send_window
        return window.timezone if window else "UTC"
