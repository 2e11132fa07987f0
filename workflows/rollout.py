"""ScenarioRollout: move a product's running journeys to a new scenario version, durably.

Pages through the journeys a visibility query matches and sends each the `scenario_update`
update at a bounded rate. Progress is its query `progress`, its card in the Temporal UI,
and `nurture rollout status`. A worker restart resumes from the last page done; a journey
updated twice answers "already runs version" the second time, so nothing moves twice. The
signals `pause` and `resume` hold it; cancelling it stops it between batches.

Keyset paging cannot see a journey that continued as new behind the cursor, so once the
pages run out the query is walked again, until a walk moves nobody (at most MAX_PASSES).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.rollout import ANSWER_WITHIN, CONCURRENT_UPDATES, RolloutActivities
    from nurture.journey.search_attributes import PRODUCT, SCENARIO_VERSION
    from nurture.rollout.contract import (
        EXAMPLES_KEPT,
        WORKFLOW_TYPE,
        ListJourneysInput,
        Refusal,
        RolloutInput,
        RolloutProgress,
        UpdateJourneysInput,
        UpdateOutcome,
    )
    from nurture.rollout.queries import journeys_query

MAX_PASSES = 3
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# Listing and counting are quick; an update batch waits for each journey's answer (a
# journey mid-send answers once the send is done, one that does not answer in time is
# left for the next pass): bounded, and retried whole, safely.
LIST_TIMEOUT = timedelta(minutes=1)


def batch_bound(journeys: int) -> timedelta:
    """Long enough for every journey of a batch to take its whole answer time."""
    rounds = -(-journeys // CONCURRENT_UPDATES)
    return timedelta(seconds=rounds * ANSWER_WITHIN + 60)


HISTORY_LIMIT = 5_000


@workflow.defn(name=WORKFLOW_TYPE)
class ScenarioRollout:
    @workflow.init
    def __init__(self, input: RolloutInput) -> None:
        self._input = input
        query = journeys_query(input.product, input.where, not_on=input.version)
        self._p = input.progress or RolloutProgress(started_at=workflow.now(), query=query)

    @workflow.run
    async def run(self, input: RolloutInput) -> RolloutProgress:
        p = self._p
        if input.progress is None:
            workflow.upsert_search_attributes(
                [PRODUCT.value_set(input.product), SCENARIO_VERSION.value_set(input.version)]
            )
            p.matched = await workflow.execute_activity_method(
                RolloutActivities.count_journeys,
                p.query,
                start_to_close_timeout=LIST_TIMEOUT,
                retry_policy=RETRY,
                summary="count the journeys to move",
            )
        self._show()
        try:
            await self._walk()
        except BaseException as err:  # a cancel arrives as CancelledError or ActivityError
            if is_cancelled_exception(err):
                p.state = "cancelled"
                self._show()
            raise
        p.state = "finished"
        self._show()
        return p

    async def _walk(self) -> None:
        p = self._p
        while True:
            await workflow.wait_condition(lambda: not p.paused)
            page = await workflow.execute_activity_method(
                RolloutActivities.list_journeys,
                ListJourneysInput(
                    query=p.query, page_token=p.page_token, page_size=self._input.page_size
                ),
                start_to_close_timeout=LIST_TIMEOUT,
                retry_policy=RETRY,
                summary=f"list journeys (pass {p.passes})",
            )
            await self._update(page.journey_ids)
            p.page_token = page.next_page_token
            if p.page_token is None:
                if p.moved_this_pass == 0 or p.passes >= MAX_PASSES:
                    return
                p.passes += 1
                p.moved_this_pass = 0
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(self._input.model_copy(update={"progress": p}))

    async def _update(self, journey_ids: list[str]) -> None:
        """Update the page's journeys in batches of one second's worth at `rate`."""
        p = self._p
        batch = max(1, int(self._input.rate))
        for start in range(0, len(journey_ids), batch):
            await workflow.wait_condition(lambda: not p.paused)
            ids = journey_ids[start : start + batch]
            began = workflow.now()
            outcomes = await workflow.execute_activity_method(
                RolloutActivities.update_journeys,
                UpdateJourneysInput(
                    journey_ids=ids, version=self._input.version, by=self._input.by
                ),
                start_to_close_timeout=batch_bound(len(ids)),
                heartbeat_timeout=timedelta(seconds=self._input.heartbeat_seconds),
                retry_policy=RETRY,
                summary=f"move {len(ids)} journeys to {self._input.version}",
            )
            for outcome in outcomes:
                self._count(outcome)
            self._show()
            rest = timedelta(seconds=len(ids) / self._input.rate) - (workflow.now() - began)
            if rest > timedelta(0):
                await workflow.sleep(rest, summary="hold the rollout's rate")

    def _count(self, outcome: UpdateOutcome) -> None:
        p = self._p
        if outcome.outcome == "moved":
            p.moved += 1
            p.moved_this_pass += 1
        elif outcome.outcome == "gone":
            p.gone += 1
        elif outcome.outcome == "already":
            p.already += 1 if p.passes == 1 else 0
        elif p.passes == 1:  # a later pass meets the same refusals again: counted once
            p.refused += 1
            if len(p.refusals) < EXAMPLES_KEPT:
                p.refusals.append(Refusal(journey_id=outcome.journey_id, reason=outcome.detail))

    def _show(self) -> None:
        p = self._p
        workflow.set_current_details(
            f"**Rollout of {self._input.product} to {self._input.version}**: {p.state}\n\n"
            f"{p.moved} moved · {p.already} already on it · {p.refused} refused · "
            f"{p.gone} ended meanwhile · {p.matched} matched at the start · "
            f"pass {p.passes}\n\n`{p.query}`"
        )

    @workflow.query(name="progress")
    def progress(self) -> RolloutProgress:
        return self._p

    @workflow.signal(name="pause")
    def pause(self) -> None:
        self._p.paused = True
        self._p.state = "paused"
        self._show()

    @workflow.signal(name="resume")
    def resume(self) -> None:
        self._p.paused = False
        self._p.state = "running"
        self._show()
