"""Loading a product's scenario; the result is recorded in the journey's history, pinning it."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.scenario.loader import ScenarioError, load_scenario
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_templates
from nurture.schedule.send_time import role_send_hours
from nurture.store.engine import Store

ROLE_HOURS_TTL = 600.0  # seconds


class LoadScenarioInput(BaseModel):
    product: str


class ScenarioActivities:
    def __init__(self, scenarios_dir: Path, store: Store) -> None:
        self.scenarios_dir = scenarios_dir
        self.store = store
        self._pinned: set[tuple[str, str]] = set()
        self._role_hours_cache: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}

    @activity.defn(name="load_scenario")
    def load_scenario(self, input: LoadScenarioInput) -> Scenario:
        """The validated scenario, its templates pinned in the store under its version.

        Retried while the file is broken, so fixing the scenario lets waiting journeys start.
        """
        try:
            scenario = load_scenario(self.scenarios_dir, input.product)
        except ScenarioError as err:
            raise ApplicationError(str(err), type="ScenarioError") from None
        key = (scenario.product, scenario.version)
        if key not in self._pinned:
            folder = self.scenarios_dir / scenario.product
            pin_templates(self.store, folder, scenario.product, scenario.version)
            self._pinned.add(key)
        window = scenario.send_window
        if window is not None and window.optimise_send_time is not None:
            hours = self._role_hours(scenario.product, window.timezone)
            scenario = scenario.model_copy(update={"role_send_hours": hours})
        return scenario

    def _role_hours(self, product: str, timezone: str) -> dict[str, int]:
        """Each role's best hour, measured at most every ROLE_HOURS_TTL per product: a bulk
        import starts thousands of journeys, and the hours move slowly."""
        now = time.monotonic()
        cached = self._role_hours_cache.get((product, timezone))
        if cached is not None and now - cached[0] < ROLE_HOURS_TTL:
            return dict(cached[1])
        hours = role_send_hours(self.store, product, timezone)
        self._role_hours_cache[(product, timezone)] = (now, hours)
        return dict(hours)
