"""`nurture lead`: leads in the store."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from nurture.cli.common import console, err_console, exit_after_temporal, open_store
from nurture.config import Settings, get_settings
from nurture.scenario.loader import scenario_dirs

lead = typer.Typer(help="Leads in the store.", no_args_is_help=True)


@lead.command("erase")
def lead_erase(
    lead_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase a lead's personal data and its journeys; anonymised counts stay."""
    from nurture.leads.erasure import erase_lead

    settings = get_settings()
    if not yes:
        typer.confirm(f"Erase lead {lead_id} and delete its journeys?", abort=True)
    store = open_store()
    try:
        report = erase_lead(store, lead_id)
    except LookupError as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(1) from None
    products = sorted(set(report.products) | _scenario_products(settings))
    forgotten = asyncio.run(_forget(settings, lead_id, products))
    state = "was already erased" if report.already_erased else "erased"
    console.print(
        f"lead {lead_id} {state}; journeys: {', '.join(forgotten) or 'none'}",
        highlight=False,
        soft_wrap=True,
    )
    exit_after_temporal(0)


def _scenario_products(settings: Settings) -> set[str]:
    root = settings.scenarios_dir
    return {folder.name for folder in scenario_dirs(root)} if root.is_dir() else set()


async def _forget(settings: Settings, lead_id: str, products: list[str]) -> list[str]:
    from nurture.journey.client import forget_journeys
    from nurture.temporal import connect

    return await forget_journeys(await connect(settings), lead_id, products)
