"""`nurture suggest`: changes learnt from outcomes, for a person to review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nurture.cli.common import (
    HandoffsSince,
    HandoffsUntil,
    console,
    err_console,
    open_store,
    period,
)
from nurture.config import get_settings

suggest = typer.Typer(help="Suggestions learnt from outcomes, to review.", no_args_is_help=True)


@suggest.command("scoring")
def suggest_scoring_command(
    product: Annotated[str, typer.Argument(help="the product: its scenario folder's name")],
    since: HandoffsSince = None,
    until: HandoffsUntil = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    write: Annotated[
        Path | None,
        typer.Option(help="write the suggestion as a patch of the scenario file (git apply)"),
    ] = None,
) -> None:
    """Rule points and a hand-off threshold learnt from won and lost hand-offs: per rule the
    points now and suggested, the odds ratio with its interval and which rules carry no
    signal; the model's AUC and calibration beside the current rules'; the threshold that
    meets handoff.target_precision within handoff.daily_capacity. Exit 1 when there is too
    little data to suggest anything."""
    from nurture.scenario.loader import ScenarioError
    from nurture.suggestions.patch import PatchError, scenario_patch
    from nurture.suggestions.scoring_suggestion import UnknownScenario, suggest_scoring
    from nurture.suggestions.view import render

    start, end = period(since, until)
    scenarios = get_settings().scenarios_dir
    try:
        suggestion = suggest_scoring(open_store(), scenarios, product, since=start, until=end)
    except UnknownScenario as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except ScenarioError as err:
        err_console.print(
            f"[red]the {product} scenario does not load: run `nurture validate`[/red]\n{err}",
            highlight=False,
        )
        raise typer.Exit(2) from None
    if as_json:
        print(suggestion.model_dump_json(indent=2))
    else:
        render(suggestion, console)
    if suggestion.status != "suggested":
        raise typer.Exit(1)
    if write is not None:
        try:
            patch = scenario_patch(scenarios / product, suggestion, relative_to=Path.cwd())
        except PatchError as err:
            err_console.print(f"[red]no patch written: {err}[/red]", highlight=False)
            raise typer.Exit(1) from None
        if not patch:
            err_console.print("nothing to change: no patch written", highlight=False)
            return
        write.write_text(patch, encoding="utf-8")
        err_console.print(
            f"patch written to {write}: review it, then `git apply {write}`", highlight=False
        )
