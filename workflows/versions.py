"""Moving a running journey to another version of its scenario (a rollout's edit).

LeadJourney's `scenario_update` update and `scenario_update_preview` query call this. The
target version is loaded by a local activity, so the history pins it as it pins the first;
where the journey continues is decided by `nurture.journey.version_move` (pure), for the
update and for the preview alike: a dry run predicts exactly what the rollout does.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import calls
from workflows.handoff import HandOffToSales

with workflow.unsafe.imports_passed_through():
    from activities.scenario import LoadScenarioVersionInput, ScenarioActivities
    from nurture.journey.contract import JourneyMemory, ScenarioUpdate, VersionMoveResult
    from nurture.journey.version_move import apply_version_move, plan_version_move
    from nurture.scenario.model import Scenario
    from nurture.scoring.score import stage_for


class MovesBetweenVersions(HandOffToSales):
    """The journey side of a rollout. `_between_steps` is True while the run loop waits (or
    continues as new): a move never lands in the middle of a send."""

    _between_steps: bool

    async def _take_version(self, request: ScenarioUpdate) -> VersionMoveResult:
        new = await calls.local(
            ScenarioActivities.load_scenario_version,
            LoadScenarioVersionInput(product=self._input.product, version=request.version),
            summary=f"load scenario version {request.version}",
        )
        # Re-checked on waking: the run loop may have woken in the same pass and left its wait
        # for a send; the move lands only while it waits (all below is without an await).
        while not (self._between_steps or self._mem.ended_reason is not None):
            await workflow.wait_condition(
                lambda: self._between_steps or self._mem.ended_reason is not None
            )
        m = self._mem
        before = m.scenario.version
        result = self._move_version(new, m)
        self._note(
            "version",
            f"scenario {before} → {new.version} by {request.by}: {result.why}",
        )
        self._woken = True
        return result

    def _preview_version(self, new: Scenario) -> VersionMoveResult:
        """What `_take_version` would answer, computed on a copy of the journey's memory."""
        if self._m is None:
            raise ValueError("the journey is still starting; retry in a moment")
        saved = self._m
        try:
            return self._move_version(new, saved.model_copy(deep=True))
        finally:
            self._m = saved

    def _move_version(self, new: Scenario, m: JourneyMemory) -> VersionMoveResult:
        """Move `m` (the journey's memory, or a copy of it) to `new`; what changed."""
        move = plan_version_move(m, new)
        if move.refused is not None:
            raise ApplicationError(move.refused, type="VersionMoveRefused", non_retryable=True)
        self._m = m
        now = workflow.now()
        step, touch, score = self._current_step(), self._next_touch(now), self._compute_score()
        from_version, from_track = m.scenario.version, m.track
        apply_version_move(m, new, move)
        new_step, new_score = self._current_step(), self._compute_score()
        return VersionMoveResult(
            journey_id=self._id,
            from_version=from_version,
            to_version=new.version,
            from_track=from_track,
            from_step=step.key if step else None,
            to_track=m.track,
            to_step=new_step.key if new_step else None,
            why=move.why,
            next_touch_before=touch,
            next_touch_after=self._next_touch(now),
            score_before=score.total,
            score_after=new_score.total,
            stage_before=m.stage,
            stage_after=stage_for(new_score.total, new.stages),
        )
