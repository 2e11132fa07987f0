"""The bare Temporal floor of bench/simulate.py: a year of a journey's shape, no more.

In its own tiny file for the reason bench/bare.py gives (the workflow sandbox re-imports
a workflow's module for every run).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

STEPS = 12  # one a month: more than the shipped scenarios send a silent lead


@activity.defn(name="bare_year_step")
async def bare_year_step() -> None:
    """The floor's "email": a no-op."""


@workflow.defn(name="BareYear")
class BareYear:
    """One activity, then a 30-day timer, twelve times: what a year of any journey costs on
    the time-skipping server at least."""

    @workflow.run
    async def run(self, offset_ms: int) -> None:
        # Each starts at its own odd moment, as the simulation's leads act at theirs: the
        # time-skipping server stalls when many timers fall due at the very same instant.
        await workflow.sleep(timedelta(milliseconds=offset_ms))
        for _ in range(STEPS):
            await workflow.execute_activity(
                bare_year_step, start_to_close_timeout=timedelta(seconds=30)
            )
            await workflow.sleep(timedelta(days=30))
