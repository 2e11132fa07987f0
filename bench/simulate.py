"""`nurture simulate` beside the bare time-skipping server running a year of journeys.

    .venv/bin/python -m bench.simulate [--leads 1000] [--months 12] [--quick]

Times `simulate` for one lead (the issue's bar:
under a second for 12 months), then `--leads` drawn from the built-in personas (the bar:
1,000 leads in under 60 s on our 2-core machine). Beside each, the floor: as many bare
workflows doing an activity and a 30-day timer twelve times (bench/bare_year.py) on a fresh
time-skipping server. Prints seconds, the ratio to the floor, and the simulation's own
figures (emails, hand-offs), so a change to the journey shows in both.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare_year import STEPS, BareYear, bare_year_step
from bench.harness.cli import parse, parser
from bench.harness.report import machine_facts
from nurture.config import Settings
from nurture.simulation.personas import built_in
from nurture.simulation.simulate import simulate
from nurture.temporal import time_skipping_server

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


async def floor(leads: int) -> float:
    """Seconds for `leads` bare years on a fresh time-skipping server."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server()
    )
    try:
        async with Worker(
            env.client, task_queue="bare", workflows=[BareYear], activities=[bare_year_step]
        ):
            began = time.monotonic()
            handles = [
                await env.client.start_workflow(
                    BareYear.run, 7_919 * n + 13, id=f"bare-{n}", task_queue="bare"
                )
                for n in range(leads)
            ]
            for _ in range(STEPS + 1):  # month by month, as the simulation steps through time
                await env.sleep(timedelta(days=30))
            for handle in handles:  # one at a time: each unlocks time skipping while it waits
                await handle.result()
            return time.monotonic() - began
    finally:
        await env.shutdown()


async def nurture(leads: int, months: int, product: str) -> tuple[float, float, str]:
    """Seconds for `leads` simulated leads: in all, and from the first simulated day (after
    the server, the store and the worker started); and what the leads did."""
    settings = Settings(secret_key="bench-" + "x" * 40)
    began = time.monotonic()
    first_day: list[float] = []

    def progress(day: int, days: int) -> None:
        if not first_day:
            first_day.append(time.monotonic())

    result = await simulate(
        settings,
        SCENARIOS,
        product,
        built_in(),
        months=months,
        leads=leads,
        seed=7,
        on_progress=progress,
    )
    ended = time.monotonic()
    p = result.population
    what = f"{p.emails} emails, {p.handoffs} hand-offs, {len(result.warnings)} warnings"
    return ended - began, ended - first_day[0], what


async def main() -> None:
    arguments = parser(__doc__)
    arguments.add_argument("--leads", type=int, default=1000)
    arguments.add_argument("--months", type=int, default=12)
    arguments.add_argument("--product", default="cloudbook")
    args = parse(arguments, {"leads": 20, "months": 2})
    print(
        f"{'leads':>7}{'floor s':>9}{'total s':>9}{'run s':>8}{'run/floor':>10}"
        f"{'bar s':>7}  simulated"
    )
    for leads, bar in ((1, 1.0), (args.leads, 60.0)):
        bare = await floor(leads)
        total, run, what = await nurture(leads, args.months, args.product)
        verdict = "" if total <= bar else " over"
        print(
            f"{leads:>7}{bare:>9.2f}{total:>9.2f}{run:>8.2f}{run / bare:>10.1f}"
            f"{bar:>7.0f}{verdict:<5}  {what}",
            flush=True,
        )
    print(
        "\nfloor: bare workflows, 12 × (activity + 30-day timer), booted server excluded; "
        "total: `simulate` from the call (server, store, worker included); run: from its "
        "first simulated day"
    )
    print("\n" + machine_facts([f"months {args.months}", f"product {args.product}"]))


if __name__ == "__main__":
    asyncio.run(main())
