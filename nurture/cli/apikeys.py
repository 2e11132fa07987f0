"""`nurture apikey`: keys for the HTTP API, each with its scopes."""

from __future__ import annotations

from typing import Annotated

import typer

from nurture.api.scopes import scope_list, scope_problem
from nurture.cli.common import console, err_console, open_store

apikey = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@apikey.command("create")
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

    key = create_api_key(open_store(), name, scope)  # type: ignore[arg-type]
    console.print(key, highlight=False)


@apikey.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Option(help="the name given at creation")]) -> None:
    """Revoke the keys of that name (within 10 s in running API processes)."""
    from nurture.api.auth import revoke_api_keys

    count = revoke_api_keys(open_store(), name)
    console.print(f"revoked {count} key(s) named {name!r}", highlight=False)
    if not count:
        raise typer.Exit(1)
