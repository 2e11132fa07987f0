"""What every `nurture` command shares: one-line errors, the consoles, the store."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from nurture.config import get_settings
from nurture.store.migrate import SchemaOutdated

if TYPE_CHECKING:
    from nurture.store.engine import Store


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

            Console(stderr=True).print(
                f"nurture: {one_line(err)}", markup=False, highlight=False, soft_wrap=True
            )
            raise SystemExit(1) from None


console = Console()
err_console = Console(stderr=True)


def open_store() -> Store:
    """The configured store, refusing an outdated schema with the command that fixes it."""
    from nurture.store.engine import Store

    store = Store(get_settings().database_url)
    try:
        store.ensure_current()
    except SchemaOutdated as err:
        err_console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(2) from None
    return store


def exit_after_temporal(code: int) -> None:
    """Leave without interpreter finalisation once a Temporal client was used: the SDK's
    native threads can call into Python while it shuts down and abort the process
    (seen as exit -6), turning a finished command into a crash. All output is flushed
    first; the store's connections close with the process."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def day_option(option: str, value: str | None) -> datetime | None:
    """A YYYY-MM-DD option as midnight UTC, or a clear error."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        err_console.print(
            f"[red]{option}: expected a date YYYY-MM-DD, got {value!r}[/red]", highlight=False
        )
        raise typer.Exit(2) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since and --until as midnights UTC, or a clear error (exit 2) for a bad day or an
    empty period."""
    start, end = day_option("--since", since), day_option("--until", until)
    if start and end and end <= start:
        err_console.print("[red]--until must be after --since[/red]")
        raise typer.Exit(2)
    return start, end


# The period options of what is about hand-offs (the report, the scoring suggestion).
HandoffsSince = Annotated[
    str | None, typer.Option(help="hand-offs made on or after this day, YYYY-MM-DD (UTC)")
]
HandoffsUntil = Annotated[
    str | None, typer.Option(help="hand-offs made before this day, YYYY-MM-DD (default: now)")
]
