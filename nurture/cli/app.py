"""The `nurture` command: validate scenarios, run the worker, start journeys, inspect them, demo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast, get_args

import typer
from rich.console import Console

from nurture.api.scopes import scope_list, scope_problem
from nurture.config import Settings, get_settings
from nurture.journey.contract import Origin
from nurture.leads.csv_import import Row
from nurture.scenario.loader import ScenarioError, load_scenario_dir, scenario_dirs
from nurture.store import migrate as schema
from nurture.store.migrate import SchemaOutdated

if TYPE_CHECKING:
    from nurture.store.engine import Store
    from nurture.worker_setup import WorkerRole


class NurtureTyper(typer.Typer):
    """Every error a command does not handle itself ends as one line that says what to fix
    (nurture/cli/errors.py) and a non-zero exit, not a traceback; `--debug` shows it."""

    debug = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as err:
            if NurtureTyper.debug:
                raise
            from nurture.cli.errors import one_line

            Console(stderr=True).print(f"nurture: {one_line(err)}", markup=False,
                                       highlight=False, soft_wrap=True)  # fmt: skip
            raise SystemExit(1) from None


app = NurtureTyper(help="Nurture: durable lead journeys on Temporal.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
lead_app = typer.Typer(help="Leads in the store.", no_args_is_help=True)
app.add_typer(lead_app, name="lead")
key_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
app.add_typer(key_app, name="apikey")
deliveries_app = typer.Typer(
    help="Accepted events on their way to journeys: the ones a journey kept refusing.",
    invoke_without_command=True,
)
app.add_typer(deliveries_app, name="deliveries")
report_app = typer.Typer(help="Reports on what nurturing gives sales.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@app.callback()
def _global_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="on an error, show the full traceback")
    ] = False,
) -> None:
    NurtureTyper.debug = debug


def _store() -> Store:
    """The configured store, refusing an outdated schema with the command that fixes it."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    try:
        store.ensure_current()
    except SchemaOutdated as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    return store


@deliveries_app.callback()
def deliveries_parked(context: typer.Context) -> None:
    """List the journeys with parked events (refused for over an hour), and why."""
    if context.invoked_subcommand is not None:
        return
    from nurture.store.relay import parked_deliveries

    parked = parked_deliveries(_store())
    if not parked:
        console.print("no parked events: every accepted event reached its journey or is on its way")
        return
    for journey in parked:
        console.print(
            f"{journey.workflow_id}  {journey.events} event(s) parked since "
            f"{journey.first_parked:%Y-%m-%d %H:%M} UTC: {journey.last_error}",
            highlight=False,
        )
    console.print("fix the cause (start the journey, ...), then: nurture deliveries retry")


@deliveries_app.command("retry")
def deliveries_retry(
    journey: Annotated[str | None, typer.Option(help="one journey's workflow id")] = None,
) -> None:
    """Put parked events back on their way (of one journey, or all)."""
    from nurture.store.relay import retry_parked

    count = retry_parked(_store(), journey)
    console.print(f"{count} parked event(s) back in the outbox", highlight=False)


def _day(option: str, value: str | None) -> datetime | None:
    """A YYYY-MM-DD option as midnight UTC, or a clear error."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]{option}: expected a date YYYY-MM-DD, got {value!r}[/red]",
                          highlight=False)  # fmt: skip
        raise typer.Exit(2) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@report_app.command("handoffs")
def report_handoffs(
    product: Annotated[str | None, typer.Option(help="one product (default: all)")] = None,
    since: Annotated[
        str | None, typer.Option(help="hand-offs made on or after this day, YYYY-MM-DD (UTC)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="hand-offs made before this day, YYYY-MM-DD (default: now)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Hand-off precision per product: accepted, won, first sales touch, threshold calibration.

    Precision is won / decided hand-offs (below ~30% sales stops following marketing's
    leads up); the calibration recommends the lowest threshold meeting the scenario's
    handoff.target_precision within its handoff.daily_capacity.
    """
    from nurture.handoff.report import UnknownProduct, build_report
    from nurture.handoff.report_view import render

    start, end = _day("--since", since), _day("--until", until)
    if start and end and end <= start:
        err_console.print("[red]--until must be after --since[/red]")
        raise typer.Exit(2)
    try:
        report = build_report(
            _store(), get_settings().scenarios_dir, product=product, since=start, until=end
        )
    except UnknownProduct as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        render(report, console)


@key_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="who uses it, e.g. 'website tracker'")],
    scope: Annotated[
        list[str], typer.Option(help=f"what the key may do; repeat for several. {scope_list()}")
    ] = ["ingest"],  # noqa: B006
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    problem = scope_problem(scope)
    if problem:
        err_console.print(f"[red]{problem}[/red]", highlight=False)
        raise typer.Exit(2)
    from nurture.api.auth import create_api_key

    key = create_api_key(_store(), name, scope)  # type: ignore[arg-type]
    console.print(key, highlight=False)


@key_app.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Option(help="the name given at creation")]) -> None:
    """Revoke the keys of that name (within 10 s in running API processes)."""
    from nurture.api.auth import revoke_api_keys

    count = revoke_api_keys(_store(), name)
    console.print(f"revoked {count} key(s) named {name!r}", highlight=False)
    if not count:
        raise typer.Exit(1)


@app.command()
def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    # Before uvicorn starts: its processes would report these as tracebacks.
    get_settings().refuse_public_default_secret()
    _store().engine.dispose()  # reachable, and at this code's schema
    uvicorn.run("nurture.api.app:app_from_env", factory=True, host=host, port=port, workers=workers)


console = Console()
err_console = Console(stderr=True)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="a scenarios folder or one product's folder")] = Path(
        "scenarios"
    ),
) -> None:
    """Check every scenario and every template it references; exit 1 on any problem."""
    if not path.exists():
        err_console.print(f"[red]{path} does not exist[/red]")
        raise typer.Exit(2)
    folders = scenario_dirs(path)
    if not folders:
        err_console.print(f"[red]no scenario.yaml found in {path} or its sub-folders[/red]")
        raise typer.Exit(2)
    failed = 0
    for folder in folders:
        try:
            scenario = load_scenario_dir(folder)
        except ScenarioError as err:
            failed += 1
            err_console.print(f"[red]✗ {folder.name}[/red] ({len(err.problems)} problem(s))")
            for problem in err.problems:
                err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
            continue
        templates = len({name for _, name in scenario.template_names()})
        console.print(
            f"[green]✓ {scenario.product}[/green] {scenario.name} · version {scenario.version} · "
            f"{len(scenario.tracks)} tracks, {templates} templates, "
            f"{len(scenario.triggers)} triggers"
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def preview(
    product: Annotated[str, typer.Argument(help="the product: its scenario folder's name")],
    step: Annotated[
        str,
        typer.Argument(
            help="TRACK/STEP, or trigger:KEY, or a bare step or trigger key that is unique"
        ),
    ],
    lead: Annotated[
        str,
        typer.Option(
            help="a sample lead (0 executive, 1 practitioner, 2 empty, 3 html), or a lead "
            "id or email from the store (NURTURE_DATABASE_URL)"
        ),
    ] = "executive",
    variant: Annotated[
        str | None,
        typer.Option(help="subject variant A, B, ... (or 0, 1, ...); default: list all, show A"),
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="write the HTML part here")] = None,
    eml: Annotated[
        Path | None, typer.Option("--eml", help="write the whole MIME message here")
    ] = None,
    scenarios: Annotated[
        Path | None, typer.Option(help="scenarios folder (default: NURTURE_SCENARIOS_DIR)")
    ] = None,
) -> None:
    """Render one email of a scenario for a lead, exactly as the worker would send it.

    Without --html or --eml it prints the headers and the plain-text part.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from nurture.cli import preview as pv

    settings = get_settings()
    try:
        scenario, folder = pv.load_product(scenarios or settings.scenarios_dir, product)
        email = pv.find_email(scenario, step)
        recipient = pv.find_lead(lead, lambda: pv.open_store(settings.database_url))
        chosen = pv.parse_variant(variant, email, recipient, scenario.product)
        shown = pv.render_preview(scenario, folder, email, recipient, chosen, settings)
    except pv.PreviewError as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except OperationalError as err:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        message = " ".join(str(err.orig).split())
        err_console.print(f"the store at {where} cannot be read: {message}",
                          markup=False, highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(1) from None
    pv.show(shown, console, text_part=html is None and eml is None)
    for path, data, what in (
        (html, shown.chosen.content.html.encode(), "HTML part"),
        (eml, bytes(shown.chosen.message), "MIME message"),
    ):
        if path is None:
            continue
        try:
            path.write_bytes(data)
        except OSError as err:
            err_console.print(f"cannot write the {what} to {path}: {err.strerror}",
                              markup=False, highlight=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(1) from None
        console.print(f"wrote the {what} to {path}", markup=False, highlight=False, soft_wrap=True)
    for missing in shown.missing_by_law():
        err_console.print(
            f"warning: the email lacks {missing}, which the law requires; "
            "nurture validate refuses it and no journey would send it",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Migrate the store at NURTURE_DATABASE_URL to this code's schema."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    before = schema.current_revision(store.engine)
    schema.upgrade(store.engine, revision)
    after = schema.current_revision(store.engine)
    where = store.engine.url.render_as_string(hide_password=True)
    console.print(f"{where}: schema {before or 'empty'} → {after}", highlight=False)


@db_app.command("current")
def db_current() -> None:
    """Print the store's schema revision and whether it is the one this code needs."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    current, head = schema.current_revision(store.engine), schema.head_revision()
    state = "up to date" if current == head else f"outdated: run `nurture db upgrade` ({head})"
    console.print(f"{current or 'empty'} · {state}", highlight=False)
    if current != head:
        raise typer.Exit(1)


@lead_app.command("erase")
def lead_erase(
    lead_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase a lead's personal data and its journeys; anonymised counts stay."""
    from nurture.leads.erasure import erase_lead

    settings = get_settings()
    if not yes:
        typer.confirm(f"Erase lead {lead_id} and delete its journeys?", abort=True)
    store = _store()
    try:
        report = erase_lead(store, lead_id)
    except LookupError as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(1) from None
    products = sorted(set(report.products) | _scenario_products(settings))
    forgotten = asyncio.run(_forget(settings, lead_id, products))
    state = "was already erased" if report.already_erased else "erased"
    console.print(f"lead {lead_id} {state}; journeys: {', '.join(forgotten) or 'none'}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    _exit_after_temporal(0)


def _scenario_products(settings: Settings) -> set[str]:
    root = settings.scenarios_dir
    return {folder.name for folder in scenario_dirs(root)} if root.is_dir() else set()


async def _forget(settings: Settings, lead_id: str, products: list[str]) -> list[str]:
    from nurture.journey.client import forget_journeys
    from nurture.temporal import connect

    return await forget_journeys(await connect(settings), lead_id, products)


@app.command()
def worker(
    role: Annotated[
        str,
        typer.Option(
            help="all: journeys and emails in this process; workflows or activities: run "
            "one process of each (on different cores) on the same task queue"
        ),
    ] = "all",
) -> None:
    """Run the journey worker (same as `python worker.py`)."""
    import worker as worker_module
    from nurture.worker_setup import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    asyncio.run(worker_module.main(cast("WorkerRole", role)))


@app.command()
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
            consent = ConsentIn(basis=consent_basis, wording=consent_wording or "")  # type: ignore[arg-type]
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
    _exit_after_temporal(1 if failures else 0)


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


@app.command()
def state(product: str, lead_id: str) -> None:
    """Print a journey's live state as JSON."""
    from nurture.journey.client import journey_state
    from nurture.temporal import connect

    async def run() -> str:
        client = await connect(get_settings())
        return (await journey_state(client, product, lead_id)).model_dump_json(indent=2)

    console.print_json(asyncio.run(run()))
    _exit_after_temporal(0)


def _exit_after_temporal(code: int) -> None:
    """Leave without interpreter finalisation once a Temporal client was used: the SDK's
    native threads can call into Python while it shuts down and abort the process
    (seen as exit -6), turning a finished command into a crash. All output is flushed
    first; the store's connections close with the process."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
) -> None:
    """Run the local stack for your scenarios: Temporal dev server + Web UI, and a worker."""
    from nurture.cli.devstack import run_dev_stack

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_dev_stack(get_settings(), Path(".nurture"), port=port, ui_port=ui_port))
    _exit_after_temporal(0)


@app.command()
def demo(
    leads: Annotated[int, typer.Option(help="how many sample leads")] = 10,
) -> None:
    """Start the local stack (Temporal dev server + UI, worker) and nurture sample leads live."""
    from nurture.cli.demo import run_demo

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(lead_count=leads))
    _exit_after_temporal(0)


if __name__ == "__main__":
    app()
