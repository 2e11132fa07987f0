"""`simulate`: a throwaway store, a time-skipping Temporal server and a worker with the real
LeadJourney and activities (email kept in memory), the personas driven through the
scenario, and what came of it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.mail.memory import MemoryProvider
from nurture.scenario.loader import load_scenario
from nurture.simulation import summary
from nurture.simulation.personas import Persona
from nurture.simulation.results import LeadRun, Simulation
from nurture.simulation.run import Run, as_utc, drive, population
from nurture.simulation.timelines import SHIFT_SHOWN, lead_runs, previous_in_track, shift_of
from nurture.store.engine import Store
from nurture.store.models import Conversion
from nurture.temporal import time_skipping_server
from nurture.worker_setup import build_worker


async def simulate(
    settings: Settings,
    scenarios_dir: Path,
    product: str,
    personas: list[Persona],
    *,
    months: int = 12,
    leads: int | None = None,
    seed: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Nurture the personas (or `leads` of them, by weight) for `months`."""
    scenario = load_scenario(scenarios_dir, product)
    folder = Path(tempfile.mkdtemp(prefix="nurture-simulate-"))
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder}/simulation.db",
            "scenarios_dir": scenarios_dir,
            "outbox_dir": folder / "outbox",
            "task_queue": "simulate",
            "handoff_webhook_url": None,
            "public_base_url": "http://localhost:8000",
        }
    )
    store = Store(settings.database_url)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=time_skipping_server()
    )
    try:
        store.upgrade()
        await search_attributes.register(env.client)
        # One thread for the activities: a throwaway SQLite store takes one writer at a time,
        # and a population's emails all go out at the send window's opening. No sandbox: it
        # re-imports the journey's modules for every workflow run (half a second to start,
        # milliseconds a lead); the code is the same, and the suite checks its determinism.
        worker = build_worker(
            env.client,
            settings,
            store,
            provider=MemoryProvider(),
            activity_threads=1,
            sandboxed=False,
        )
        async with worker:
            run = await drive(
                env,
                settings,
                scenario,
                store,
                population(personas, leads, seed),
                months=months,
                seed=seed,
                on_progress=on_progress,
            )
            runs = await lead_runs(run)
        return _result(run, runs, months)
    finally:
        await env.shutdown()
        store.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _goals_reached(store: Store) -> dict[str, int]:
    """Leads per goal reached (the journeys recorded them as conversions)."""
    with store.session() as session:
        rows = session.execute(select(Conversion.goal, func.count()).group_by(Conversion.goal))
        return {goal: count for goal, count in rows}


def _result(run: Run, runs: list[LeadRun], months: int) -> Simulation:
    nurture_sends = [s for s in run.observed.sends if s.mail_type != "sales"]
    sent = [(s.lead_id, s.send_key, as_utc(s.journey_time)) for s in nurture_sends]
    capped = {send_id for send_id, _ in run.observed.deferrals}
    shifts = sum(
        1
        for s in nurture_sends
        if s.id not in capped
        and shift_of(run.scenario, s, previous_in_track(nurture_sends, s)) >= SHIFT_SHOWN
    )
    figures = summary.population(
        runs,
        sent,
        run.scenario,
        months=months,
        cap_deferrals=len(run.observed.deferrals),
        shifts=shifts,
        goals=_goals_reached(run.store),
    )
    return Simulation(
        product=run.scenario.product,
        version=run.scenario.version,
        started_at=run.started_at,
        ended_at=run.ended_at,
        seed=run.seed,
        leads=runs,
        population=figures,
        warnings=summary.warnings(run.scenario, sent, figures),
        problems=summary.problems(runs, sent),
    )
