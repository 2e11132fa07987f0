"""`nurture validate` and `nurture preview`: a scenario before it reaches a lead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nurture.channels.readiness import channel_problems
from nurture.cli.common import console, err_console
from nurture.config import get_settings
from nurture.scenario.attribute_checks import declared_attributes
from nurture.scenario.loader import ScenarioError, load_scenario_dir, scenario_dirs


def validate(
    path: Annotated[Path, typer.Argument(help="a scenarios folder or one product's folder")] = Path(
        "scenarios"
    ),
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate",
            help="also run the built-in personas for 12 months: refuse a scenario that hands "
            "nobody off or mails someone daily",
        ),
    ] = False,
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
    loaded = []
    for folder in folders:
        try:
            scenario = load_scenario_dir(folder)
        except ScenarioError as err:
            failed += 1
            err_console.print(f"[red]✗ {folder.name}[/red] ({len(err.problems)} problem(s))")
            for problem in err.problems:
                err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
            continue
        unreachable = channel_problems(scenario, get_settings())
        if unreachable:
            failed += 1
            err_console.print(f"[red]✗ {folder.name}[/red] ({len(unreachable)} problem(s))")
            for said in unreachable:
                err_console.print(f"  {said}", markup=False, highlight=False, soft_wrap=True)
            continue
        loaded.append(scenario)
        templates = len({name for _, name in scenario.template_names()})
        console.print(
            f"[green]✓ {scenario.product}[/green] {scenario.name} · version {scenario.version} · "
            f"{len(scenario.tracks)} tracks, {templates} templates, "
            f"{len(scenario.triggers)} triggers"
        )
        if simulate:
            failed += _rehearse(folder)
    conflicts = declared_attributes(loaded).conflicts
    for conflict in conflicts:
        err_console.print(f"[red]✗ {conflict}[/red]", highlight=False, soft_wrap=True)
    if failed or conflicts:
        raise typer.Exit(1)


def _rehearse(folder: Path) -> int:
    """The built-in personas through the scenario for a year; 1 if it has problems."""
    from nurture.cli.simulate import run_simulation

    result = run_simulation(
        folder.resolve().parent, folder.name, None, months=12, leads=None, seed=1, quiet=True
    )
    handed = result.population.handoffs
    for warning in result.warnings:
        console.print(f"  [yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    if result.problems:
        err_console.print(f"[red]✗ {folder.name}[/red] simulated with the built-in personas:")
        for problem in result.problems:
            err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        return 1
    console.print(
        f"  simulated 12 months with the built-in personas: {result.population.emails} "
        f"emails, {handed} hand-off{'' if handed == 1 else 's'}, no problem",
        highlight=False,
    )
    return 0


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
    channel: Annotated[
        str,
        typer.Option(help="email, or line: print a LINE step's message JSON as LINE gets it"),
    ] = "email",
) -> None:
    """Render one email of a scenario for a lead, exactly as the worker would send it.

    Without --html or --eml it prints the headers and the plain-text part; with
    --channel line, a LINE step's messages.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from nurture.cli import preview as pv

    settings = get_settings()
    try:
        scenario, folder = pv.load_product(scenarios or settings.scenarios_dir, product)
        email = pv.find_email(scenario, step)
        recipient = pv.find_lead(lead, lambda: pv.open_store(settings.database_url))
        if channel not in ("email", "line"):
            raise pv.PreviewError(f"--channel {channel!r}: give email or line")
        if channel == "line":
            line = pv.render_line_preview(scenario, folder, email, recipient, settings)
            typer.echo(json.dumps(line.messages, ensure_ascii=False, indent=2))
            return
        chosen = pv.parse_variant(variant, email, recipient, scenario.product)
        shown = pv.render_preview(scenario, folder, email, recipient, chosen, settings)
    except pv.PreviewError as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except OperationalError as err:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        message = " ".join(str(err.orig).split())
        err_console.print(
            f"the store at {where} cannot be read: {message}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
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
            err_console.print(
                f"cannot write the {what} to {path}: {err.strerror}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None
        console.print(f"wrote the {what} to {path}", markup=False, highlight=False, soft_wrap=True)
    for missing in shown.missing_by_law():
        err_console.print(
            f"warning: the email lacks {missing}, which the law requires; "
            "nurture validate refuses it and no journey would send it",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def send_test(
    product: Annotated[str, typer.Argument(help="the product: its scenario folder's name")],
    step: Annotated[str, typer.Argument(help="TRACK/STEP, trigger:KEY, or a unique key")],
    to: Annotated[str, typer.Option("--to", help="an address NURTURE_TEST_RECIPIENTS allows")],
    lead: Annotated[
        str,
        typer.Option(help="whose data fills the email: a sample lead, or a lead id or email"),
    ] = "executive",
    variant: Annotated[str | None, typer.Option(help="subject variant A, B, ...")] = None,
    scenarios: Annotated[
        Path | None, typer.Option(help="scenarios folder (default: NURTURE_SCENARIOS_DIR)")
    ] = None,
) -> None:
    """Send one email of a scenario to yourself through the configured provider, subject
    prefixed [TEST]: rendered as the worker renders it, never counted in analytics or a
    lead's weekly cap, and only to addresses NURTURE_TEST_RECIPIENTS allows."""
    from nurture.cli import preview as pv
    from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
    from nurture.mail.providers import ProviderError
    from nurture.mail.test_send import NotAllowed, allow_list, check_allowed
    from nurture.mail.test_send import send_test as deliver_test

    settings = get_settings()
    try:
        address = check_allowed(to, allow_list(settings.test_recipients))
        scenario, folder = pv.load_product(scenarios or settings.scenarios_dir, product)
        email = pv.find_email(scenario, step)
        recipient = pv.find_lead(lead, lambda: pv.open_store(settings.database_url))
        chosen = pv.parse_variant(variant, email, recipient, scenario.product)
        shown = pv.render_preview(scenario, folder, email, recipient, chosen, settings)
        missing = shown.missing_by_law()
        if missing:
            raise pv.PreviewError(
                f"not sent: the email lacks {' and '.join(missing)}, which the law requires"
            )
        provider = build_provider(settings)
        message_id = deliver_test(
            provider,
            shown.chosen.message,
            to=address,
            product=scenario.product,
            label=email.label,
            variant=chosen,
        )
    except (NotAllowed, pv.PreviewError, ProviderNotConfigured, ProviderError) as err:
        err_console.print(str(err), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    letter = chr(ord("A") + chosen)
    console.print(
        f"sent [TEST] {email.label} (variant {letter}, {lead}'s data) to {address} through "
        f"{provider.name}: {message_id}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
