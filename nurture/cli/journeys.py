"""`nurture start` and `nurture state`: leads into journeys, and where they stand."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast, get_args

import typer

from nurture.cli.common import console, err_console, exit_after_temporal
from nurture.config import Settings, get_settings
from nurture.journey.contract import Origin
from nurture.leads.attributes import AttributeCatalog
from nurture.leads.csv_import import Row
from nurture.store.migrate import SchemaOutdated

if TYPE_CHECKING:
    pass


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
            catalog = _attribute_catalog(get_settings().scenarios_dir)
            rows = list(
                read_leads(csv_file, source=source, locale=locale, consent=consent, catalog=catalog)
            )
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


def _attribute_catalog(root: Path) -> AttributeCatalog:
    """The attributes every valid scenario declares (what CSV columns may fill)."""
    from nurture.scenario.attribute_checks import declared_attributes
    from nurture.scenario.loader import valid_scenarios

    return declared_attributes(valid_scenarios(root))


async def _start_rows(
    settings: Settings, rows: list[Row], products: list[str], origin: Origin = "marketing"
) -> int:
    from nurture.journey.client import start_journey, tell_journeys
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
        if not created:  # its running journeys learn what changed (a title, an attribute)
            await tell_journeys(client, store, lead)
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


journeys = typer.Typer(
    help="Many journeys at once: list, count, pause, resume or stop them by a query over "
    'their search attributes (e.g. --where \'LeadStage="hot" AND NurtureTrack="warm"\').',
    no_args_is_help=True,
)
Where = Annotated[
    str | None,
    typer.Option(help='Temporal visibility query, e.g. LeadStage="hot" AND LeadScore > 40'),
]


def _bad_query(err: Exception) -> None:
    err_console.print(f"[red]{err}[/red]", highlight=False)
    raise typer.Exit(2)


@journeys.command("list")
def list_journeys(
    product: str,
    where: Where = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Running journeys with their stage, score, lifecycle, track and next touch."""
    from nurture.journey import bulk
    from nurture.rollout.queries import BadQuery
    from nurture.temporal import connect

    settings = get_settings()

    async def run() -> list[bulk.JourneyRow]:
        client = await connect(settings)
        rows: list[bulk.JourneyRow] = []
        token = None
        while len(rows) < limit:
            page = await bulk.list_page(
                client,
                product,
                where,
                secret=settings.secret_key,
                page_size=min(limit - len(rows), 1000),
                page_token=token,
            )
            rows += page.journeys
            token = page.next_page_token
            if token is None:
                break
        return rows

    try:
        rows = asyncio.run(run())
    except BadQuery as err:
        _bad_query(err)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in rows]))
    if rows and not as_json:
        console.print(
            f"{'lead':20} {'stage':5} {'score':>5}  {'lifecycle':12} {'track':10} next touch",
            highlight=False,
        )
    for row in [] if as_json else rows:
        touch = f"{row.next_touch_at:%Y-%m-%d %H:%M} UTC" if row.next_touch_at else "-"
        score = "-" if row.score is None else str(row.score)
        console.print(
            f"{row.lead_id:20} {row.stage or '-':5} {score:>5}  {row.lifecycle or '-':12} "
            f"{row.track or '-':10} {touch}",
            highlight=False,
        )
    exit_after_temporal(0)


@journeys.command("count")
def count_journeys(product: str, where: Where = None) -> None:
    """How many running journeys match."""
    from nurture.journey import bulk
    from nurture.rollout.queries import BadQuery
    from nurture.temporal import connect

    async def run() -> int:
        return await bulk.count(await connect(get_settings()), product, where)

    try:
        console.print(asyncio.run(run()))
    except BadQuery as err:
        _bad_query(err)
    exit_after_temporal(0)


def _bulk(action: str, product: str, where: str | None, yes: bool, reason: str, wait: bool) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    from nurture.journey import bulk
    from nurture.rollout.queries import BadQuery
    from nurture.temporal import connect

    settings = get_settings()

    async def run() -> int:
        client = await connect(settings)
        matched = await bulk.count(client, product, where)
        if matched == 0:
            console.print(f"no running journey of {product!r} matches", highlight=False)
            return 0
        if not yes and not typer.confirm(f"{action} {matched} running journeys of {product}?"):
            return 1
        try:
            job_id = await bulk.start(
                client, cast("bulk.BulkAction", action), product, where, reason=reason
            )
        except RPCError as err:
            if err.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                raise
            err_console.print(
                "another bulk action is still running in this namespace (Temporal runs few at "
                "a time): wait for it, then run this again",
                highlight=False,
            )
            return 1
        console.print(
            f"batch operation {job_id}: {action} {matched} journeys; Temporal UI: "
            f"{settings.temporal_ui_url}/namespaces/{client.namespace}/batch-operations/{job_id}",
            highlight=False,
            soft_wrap=True,
        )
        while wait:
            status = await bulk.status(client, job_id)
            console.print(
                f"{status.state}: {status.done} of {status.total} done, {status.failed} failed",
                highlight=False,
            )
            if status.state != "running":
                return 0 if status.state == "completed" and not status.failed else 1
            await asyncio.sleep(1)
        return 0

    try:
        code = asyncio.run(run())
    except BadQuery as err:
        _bad_query(err)
    exit_after_temporal(code)


Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask to confirm the count")]
Reason = Annotated[str, typer.Option(help="why: shown in the Temporal UI and each journey")]
Wait = Annotated[bool, typer.Option(help="follow the batch operation until it is done")]


@journeys.command("pause")
def pause(
    product: str, where: Where = None, yes: Yes = False, reason: Reason = "", wait: Wait = True
) -> None:
    """No more email from the matching journeys until resumed (behaviour still scores)."""
    _bulk("pause", product, where, yes, reason, wait)


@journeys.command("resume")
def resume(
    product: str, where: Where = None, yes: Yes = False, reason: Reason = "", wait: Wait = True
) -> None:
    """Email again from paused journeys: each sends its due step in its send window."""
    _bulk("resume", product, where, yes, reason, wait)


@journeys.command("stop")
def stop(
    product: str, where: Where = None, yes: Yes = False, reason: Reason = "", wait: Wait = True
) -> None:
    """End the matching journeys for good (their lifecycle stays as it is)."""
    _bulk("stop", product, where, yes, reason, wait)
