"""Loading a product's scenario; the result is recorded in the journey's history, pinning it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.scenario import Scenario
from nurture.scenario_loader import ScenarioError, load_scenario
from nurture.send_time import role_send_hours
from nurture.store import Store
from nurture.template_pins import pin_templates


class LoadScenarioInput(BaseModel):
    product: str


class ScenarioActivities:
    def __init__(self, scenarios_dir: Path, store: Store) -> None:
        self.scenarios_dir = scenarios_dir
        self.store = store
        self._pinned: set[tuple[str, str]] = set()

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
            hours = role_send_hours(self.store, scenario.product, window.timezone)
            scenario = scenario.model_copy(update={"role_send_hours": hours})
        return scenario
