"""`nurture db` (the schema) and `nurture deliveries` (events a journey kept refusing)."""

from __future__ import annotations

from typing import Annotated

import typer

from nurture.cli.common import console, open_store
from nurture.config import get_settings
from nurture.store import migrate

db = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)
deliveries = typer.Typer(
    help="Accepted events on their way to journeys: the ones a journey kept refusing.",
    invoke_without_command=True,
)


@deliveries.callback()
def deliveries_parked(context: typer.Context) -> None:
    """List the journeys with parked events (refused for over an hour), and why."""
    if context.invoked_subcommand is not None:
        return
    from nurture.store.relay import parked_deliveries

    parked = parked_deliveries(open_store())
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


@deliveries.command("retry")
def deliveries_retry(
    journey: Annotated[str | None, typer.Option(help="one journey's workflow id")] = None,
) -> None:
    """Put parked events back on their way (of one journey, or all)."""
    from nurture.store.relay import retry_parked

    count = retry_parked(open_store(), journey)
    console.print(f"{count} parked event(s) back on their way", highlight=False)


@db.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Migrate the store at NURTURE_DATABASE_URL to this code's schema."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    before = migrate.current_revision(store.engine)
    migrate.upgrade(store.engine, revision)
    after = migrate.current_revision(store.engine)
    where = store.engine.url.render_as_string(hide_password=True)
    console.print(f"{where}: schema {before or 'empty'} → {after}", highlight=False)


@db.command("refresh-outcomes")
def db_refresh_outcomes() -> None:
    """Set every send's outcome flags (sends.ever_*) from its engagement facts: after a
    rolling deploy (processes still on older code record facts without setting them) or a
    bulk load of facts. Safe to repeat; it only ever turns a flag on."""
    from nurture.analytics.facts import refresh_outcome_flags
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    with store.session() as session:
        refresh_outcome_flags(session)
    console.print("outcome flags refreshed from the engagement facts", highlight=False)


@db.command("current")
def db_current() -> None:
    """Print the store's schema revision and whether it is the one this code needs."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    current, head = migrate.current_revision(store.engine), migrate.head_revision()
    state = "up to date" if current == head else f"outdated: run `nurture db upgrade` ({head})"
    console.print(f"{current or 'empty'} · {state}", highlight=False)
    if current != head:
        raise typer.Exit(1)
