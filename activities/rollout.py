"""What a rollout asks of Temporal: a page of matching journeys, and each one's update."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from nurture.journey.contract import ScenarioUpdate, VersionMoveResult
from nurture.journey.version_move import ALREADY_ON_VERSION
from nurture.rollout.contract import (
    UPDATE_NAME,
    JourneyPage,
    ListJourneysInput,
    Outcome,
    UpdateJourneysInput,
    UpdateOutcome,
)

CONCURRENT_UPDATES = 8
# A journey answers once it is between steps: a send takes seconds, at worst its 3-minute
# bound. A journey that does not answer in time is left for the next pass.
ANSWER_WITHIN = 120.0
HEARTBEAT_EVERY = 1.0  # the SDK throttles what it sends to the server


async def _heartbeat() -> None:
    """Beat while the batch waits on its journeys, whatever they take."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)


class RolloutActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="count_journeys")
    async def count_journeys(self, query: str) -> int:
        try:
            return (await self.client.count_workflows(query)).count
        except RPCError as err:
            raise _bad_query(err, query) from None

    @activity.defn(name="list_journeys")
    async def list_journeys(self, input: ListJourneysInput) -> JourneyPage:
        """One page of the query's journeys. Visibility pages by key, so a journey that
        leaves the query (it took the version) does not shift the next page."""
        page = self.client.list_workflows(
            input.query, page_size=input.page_size, next_page_token=input.page_token
        )
        try:
            await page.fetch_next_page(page_size=input.page_size)
        except RPCError as err:
            raise _bad_query(err, input.query) from None
        ids = [execution.id for execution in page.current_page or []]
        return JourneyPage(journey_ids=ids, next_page_token=page.next_page_token or None)

    @activity.defn(name="update_journeys")
    async def update_journeys(self, input: UpdateJourneysInput) -> list[UpdateOutcome]:
        """Send each journey `scenario_update`; a retry repeats none (one update id per
        journey and version), and what a journey refuses is an answer, not a failure."""
        gate = asyncio.Semaphore(CONCURRENT_UPDATES)

        async def one(journey_id: str) -> UpdateOutcome:
            async with gate:
                try:
                    return await asyncio.wait_for(self._update(journey_id, input), ANSWER_WITHIN)
                except TimeoutError:  # mid-send for long, or stuck: the next pass asks again
                    detail = f"no answer within {ANSWER_WITHIN:.0f} s (a long send, or stuck)"
                    return UpdateOutcome(journey_id=journey_id, outcome="refused", detail=detail)

        beat = asyncio.create_task(_heartbeat())
        try:
            return list(await asyncio.gather(*(one(j) for j in input.journey_ids)))
        finally:
            beat.cancel()

    async def _update(self, journey_id: str, input: UpdateJourneysInput) -> UpdateOutcome:
        handle = self.client.get_workflow_handle(journey_id)
        try:
            result = await handle.execute_update(
                UPDATE_NAME,
                ScenarioUpdate(version=input.version, by=input.by),
                id=f"scenario-update:{input.version}",
                result_type=VersionMoveResult,
            )
        except WorkflowUpdateFailedError as err:
            already = getattr(err.cause, "type", None) == ALREADY_ON_VERSION  # an earlier try
            outcome: Outcome = "already" if already else "refused"
            return UpdateOutcome(journey_id=journey_id, outcome=outcome, detail=_why(err))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:  # ended since it was listed
                return UpdateOutcome(journey_id=journey_id, outcome="gone", detail=err.message)
            raise
        where = f"{result.to_track}/{result.to_step or '(end of track)'}"
        return UpdateOutcome(journey_id=journey_id, outcome="moved", detail=where)


def _why(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return getattr(cause, "message", None) or str(cause or err)


def _bad_query(err: RPCError, query: str) -> Exception:
    if err.status == RPCStatusCode.INVALID_ARGUMENT:
        return ApplicationError(
            f"visibility refused the query {query!r}: {err.message}",
            type="BadQuery",
            non_retryable=True,
        )
    return err
