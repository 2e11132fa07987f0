"""`nurture start` and `nurture state`: leads into journeys, and where they stand."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from nurture.cli.common import console, err_console, exit_after_temporal
from nurture.config import Settings, get_settings
from nurture.journey.contract import Origin
from nurture.leads.csv_import import Row
from nurture.store.migrate import SchemaOutdated


def start(
    product: Annotated[list[str], typer.Option("--product", "-p", help="repeat for several")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="a CSV of leads")] = None,
    email: Annotated[str | None, typer.Option(help="one lead's email")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option()] = None,
    industry: Annotated[str | None, typer.Option()] = None,
    size: Annotated[str | None, typer.Option(help="employees, e.g. 250 or 51-200")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str, typer.Option(help="lead source channel")] = "trade_show",
    locale: Annotated[str | None, typer.Option(help="ja or en")] = None,
    consent_basis: Annotated[
        str | None,
        typer.Option(help="how the leads agreed: opt_in_form, business_card, ..."),
    ] = None,
    consent_wording: Annotated[
        str | None, typer.Option(help="the form's wording, or where cards were exchanged")
    ] = None,
    origin: Annotated[
        str,
        typer.Option(
            help="marketing (nurtured), or sales: leads sales created itself (SGL) start in "
            "sql, owned by sales, with no nurture email"
        ),
    ] = "marketing",
) -> None:
    """Upsert leads and start their journeys; existing journeys are left alone and reported.

    Without a consent basis (flags, or consent_basis/consent_wording columns) the lead is
    stored and nurtured, but every email is refused and recorded as suppressed.
    """
    from nurture.leads.csv_import import parse_row, read_leads
    from nurture.store.engine import ConsentIn

    consent = None
    if consent_basis:
        try:
            consent = ConsentIn(basis=consent_basis, wording=consent_wording or "")
        except ValueError as err:
            err_console.print(f"[red]consent: {err}[/red]", highlight=False)
            raise typer.Exit(2) from None

    if origin not in get_args(Origin):
        err_console.print(f"[red]--origin must be marketing or sales, not {origin!r}[/red]")
        raise typer.Exit(2)
    if (csv_file is None) == (email is None):
        err_console.print("[red]give either --csv FILE or --email ADDRESS[/red]")
        raise typer.Exit(2)
    if csv_file is not None:
        try:
            rows = list(read_leads(csv_file, source=source, locale=locale, consent=consent))
        except (OSError, ValueError) as err:
            err_console.print(f"[red]{err}[/red]")
            raise typer.Exit(2) from None
    else:
        fields = {
            "email": email or "",
            "name": name or "",
            "company": company or "",
            "industry": industry or "",
            "size": size or "",
            "title": title or "",
        }
        rows = [parse_row(0, fields, source, locale, consent)]
    try:
        failures = asyncio.run(_start_rows(get_settings(), rows, product, cast("Origin", origin)))
    except SchemaOutdated as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    exit_after_temporal(1 if failures else 0)


async def _start_rows(
    settings: Settings, rows: list[Row], products: list[str], origin: Origin = "marketing"
) -> int:
    from nurture.journey.client import start_journey
    from nurture.scenario.loader import ScenarioError as LoadError
    from nurture.store.engine import LeadConflict, Store, has_any_consent
    from nurture.temporal import connect

    store = Store(settings.database_url)
    store.ensure_current()
    client = await connect(settings)
    failures = 0
    for row in rows:
        where = f"row {row.line}" if row.line else "lead"
        if row.lead is None:
            failures += 1
            err_console.print(f"[red]{where}: skipped: {row.error}[/red]", highlight=False)
            continue
        try:
            lead, created = store.upsert_lead(row.lead)
        except LeadConflict as err:
            failures += 1
            err_console.print(f"[red]{where}: skipped: {err}[/red]", highlight=False)
            continue
        if row.lead.consent is None and not has_any_consent(store, lead.id):
            err_console.print(
                f"[yellow]{where}: no consent basis on record: its emails will be refused "
                "(pass --consent-basis and --consent-wording)[/yellow]",
                highlight=False,
            )
        for product in products:
            try:
                outcome = await start_journey(client, settings, store, lead, product, origin)
            except LoadError as err:
                failures += 1
                err_console.print(f"[red]{where}: {err}[/red]", highlight=False)
                continue
            mark = "[green]started[/green]" if outcome.started else "[yellow]exists[/yellow]"
            console.print(
                f"{where}: {mark} {outcome.journey_id} ({outcome.message})"
                + ("" if created else "; lead updated"),
                highlight=False,
            )
    return failures


def state(product: str, lead_id: str) -> None:
    """Print a journey's live state as JSON."""
    from nurture.journey.client import journey_state
    from nurture.temporal import connect

    async def run() -> str:
        client = await connect(get_settings())
        return (await journey_state(client, product, lead_id)).model_dump_json(indent=2)

    console.print_json(asyncio.run(run()))
    exit_after_temporal(0)
