"""Loading a product's scenario; the result is recorded in the journey's history, pinning it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.scenario import Scenario
from nurture.scenario_loader import ScenarioError, load_scenario


class LoadScenarioInput(BaseModel):
    product: str


class ScenarioActivities:
    def __init__(self, scenarios_dir: Path) -> None:
        self.scenarios_dir = scenarios_dir

    @activity.defn(name="load_scenario")
    def load_scenario(self, input: LoadScenarioInput) -> Scenario:
        """Retried while the file is broken, so fixing the scenario lets waiting journeys start."""
        try:
            return load_scenario(self.scenarios_dir, input.product)
        except ScenarioError as err:
            raise ApplicationError(str(err), type="ScenarioError") from None
