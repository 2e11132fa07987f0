"""Loading a product's scenario; the result is recorded in the journey's history, pinning it."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.scenario.loader import ScenarioError, load_scenario
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_definition, pin_templates, pinned_scenario
from nurture.schedule.send_time import role_send_hours
from nurture.store.engine import Store

ROLE_HOURS_TTL = 600.0  # seconds


class LoadScenarioInput(BaseModel):
    product: str


class LoadScenarioVersionInput(BaseModel):
    product: str
    version: str


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
        self._pin(scenario)
        return self._measured(scenario)

    @activity.defn(name="load_scenario_version")
    def load_scenario_version(self, input: LoadScenarioVersionInput) -> Scenario:
        """A given version of the scenario (a rollout's target): the files on disk when they
        are that version, else the definition the store kept when a journey first loaded it.
        An unknown version is not retried: no file will become an old version again."""
        on_disk: Scenario | None = None
        with contextlib.suppress(ScenarioError):  # a broken file is not the version asked
            on_disk = load_scenario(self.scenarios_dir, input.product)
        if on_disk is not None and on_disk.version == input.version:
            self._pin(on_disk)
            return self._measured(on_disk)
        kept = pinned_scenario(self.store, input.product, input.version)
        if kept is None:
            now = f"; the files are version {on_disk.version}" if on_disk else ""
            raise ApplicationError(
                f"no version {input.version!r} of scenario {input.product!r} is known{now}: "
                "`nurture versions PRODUCT` lists them",
                type="UnknownScenarioVersion",
                non_retryable=True,
            )
        return self._measured(kept)

    def _pin(self, scenario: Scenario) -> None:
        """Keep the version's templates and definition in the store, once per process."""
        key = (scenario.product, scenario.version)
        if key not in self._pinned:
            folder = self.scenarios_dir / scenario.product
            pin_templates(self.store, folder, scenario.product, scenario.version)
            pin_definition(self.store, scenario)
            self._pinned.add(key)

    def _measured(self, scenario: Scenario) -> Scenario:
        """The scenario with what is measured at load time (each role's best send hour)."""
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
