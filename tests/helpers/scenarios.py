"""Test scenarios: copies to edit, and versions pinned as a journey's start pins them."""

from __future__ import annotations

import shutil
from pathlib import Path

from nurture.config import Settings
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_templates
from nurture.store.engine import Store
from tests.helpers.paths import SCENARIOS


def pinned(store: Store, product: str = "acme") -> Scenario:
    """A test scenario whose templates are pinned in `store`, as a journey's start does."""
    scenario = load_scenario(SCENARIOS, product)
    pin_templates(store, SCENARIOS / product, product, scenario.version)
    return scenario


def scenario_copy(
    settings: Settings, tmp_path: Path, *, old: str = "", new: str = "", product: str = "acme"
) -> Path:
    """Copy the acme test scenario (as `product`, one text edit applied) into a scenarios
    folder of the test's own, and point `settings` at it. Build the worker afterwards."""
    target = tmp_path / product
    shutil.copytree(SCENARIOS / "acme", target)
    yaml = target / "scenario.yaml"
    text = yaml.read_text().replace("product: acme", f"product: {product}")
    if old:
        assert old in text, old
        text = text.replace(old, new)
    yaml.write_text(text)
    settings.scenarios_dir = tmp_path
    return target
