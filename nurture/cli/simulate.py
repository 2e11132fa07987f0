"""`nurture simulate`: a scenario rehearsed for months in seconds, before any lead sees it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nurture.cli.common import console, err_console, exit_after_temporal
from nurture.config import get_settings

if TYPE_CHECKING:
    from nurture.simulation.results import Simulation


def scenarios_root(scenario: Path | None, product: str) -> Path:
    """The scenarios folder holding `product`: --scenario (that folder, or the product's
    own), else NURTURE_SCENARIOS_DIR."""
    from nurture.scenario.loader import SCENARIO_FILE

    if scenario is None:
        return get_settings().scenarios_dir
    if (scenario / SCENARIO_FILE).exists():
        if scenario.resolve().name != product:
            err_console.print(
                f"[red]{scenario} is the folder of product {scenario.resolve().name!r}, "
                f"not {product!r}[/red]",
                highlight=False,
            )
            raise typer.Exit(2)
        return scenario.resolve().parent
    return scenario


def run_simulation(
    root: Path,
    product: str,
    personas_file: Path | None,
    *,
    months: int,
    leads: int | None,
    seed: int,
    quiet: bool = False,
) -> Simulation:
    from nurture.scenario.loader import ScenarioError
    from nurture.simulation.personas import PersonaError, built_in, load_personas
    from nurture.simulation.simulate import simulate

    try:
        personas = load_personas(personas_file) if personas_file else built_in()
    except PersonaError as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    shown = [-1]

    def progress(day: int, days: int) -> None:
        tenth = day * 10 // max(days, 1)
        if not quiet and tenth > shown[0]:
            shown[0] = tenth
            err_console.print(f"simulated day {day} of {days}", highlight=False)

    try:
        return asyncio.run(
            simulate(
                get_settings(),
                root,
                product,
                personas,
                months=months,
                leads=leads,
                seed=seed,
                on_progress=progress,
            )
        )
    except ScenarioError as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def simulate(
    product: Annotated[str, typer.Argument(help="the product: its scenario folder's name")],
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="a scenarios folder, or the product's own (default: NURTURE_SCENARIOS_DIR)"
        ),
    ] = None,
    personas: Annotated[
        Path | None,
        typer.Option(help="a YAML file of personas (default: the built-in ones)"),
    ] = None,
    months: Annotated[int, typer.Option(min=1, max=36)] = 12,
    leads: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="a population of this many, drawn by weight"),
    ] = None,
    seed: Annotated[int, typer.Option(help="the same seed, the same run")] = 1,
    html: Annotated[Path | None, typer.Option("--html", help="write the report as a page")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Run the real journeys on Temporal's time-skipping server for the personas (email kept
    in memory, a throwaway store), and show each one's timeline, the population's figures
    and warnings. Nothing is sent; nothing of the real store is touched."""
    from nurture.scenario.loader import load_scenario
    from nurture.simulation.views import html as page
    from nurture.simulation.views import show

    root = scenarios_root(scenario, product)
    result = run_simulation(root, product, personas, months=months, leads=leads, seed=seed)
    window = load_scenario(root, product).send_window
    timezone = window.timezone if window else "UTC"
    if html is not None:
        html.write_text(page(result, timezone), encoding="utf-8")
        err_console.print(f"wrote {html}", highlight=False)
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        show(result, console, timezone)
    exit_after_temporal(0)
