"""The bare Temporal floor of bench/journeys.py and bench/ingest: a journey's shape, no more.

It lives in its own tiny file because the workflow sandbox re-imports a workflow's module
for every run. Defined inside the ~500-line bench script, the floor paid ~5 ms more worker
CPU per workflow (measured with bytecode cached: 12–13 ms against 7.5–8 ms), which lowered
the floor by a fifth and flattered Nurture's ratio. `workflows/lead_journey.py` pays its
own re-import; that is part of what the benchmark measures.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

# Workflow id → wall time at which its activity ran. Written by the activity, which runs
# outside the sandbox in the benchmark's process, so the benchmark reads it directly.
DONE: dict[str, float] = {}


@activity.defn(name="bare_step")
async def bare_step() -> None:
    """The floor's one activity: a no-op that notes when it ran (the floor's "email sent")."""
    DONE.setdefault(activity.info().workflow_id or "", time.time())


@workflow.defn(name="BareStep")
class BareStep:
    """What any journey costs at least: one activity, then a 30-day timer (the next step)
    during which signals arrive and are counted.

    Signals are taken as plain JSON (no model validation) and do not touch the timer: the
    floor is what Temporal costs, everything above it is what Nurture's code costs.
    """

    def __init__(self) -> None:
        self._signals = 0
        self._last_signal_at = ""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(bare_step, start_to_close_timeout=timedelta(seconds=60))
        await workflow.sleep(timedelta(days=30))

    @workflow.signal(name="behavior")
    def behavior(self, event: dict[str, Any]) -> None:
        self._signals += 1
        self._last_signal_at = workflow.now().isoformat()

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        """Counted signals and the workflow time of the last (a dict: no class to build)."""
        return {"signals": self._signals, "last_signal_at": self._last_signal_at or None}
