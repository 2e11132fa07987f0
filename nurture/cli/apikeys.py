"""`nurture apikey`: keys for the HTTP API, each with its scopes."""

from __future__ import annotations

from typing import Annotated

import typer

from nurture.api.scopes import scope_list, scope_problem
from nurture.cli.common import console, err_console, open_store

ORIGIN_HELP = (
    "publishable: a page origin allowed to use it, e.g. https://www.example.jp; repeat for several"
)
apikey = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)


@apikey.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="who uses it, e.g. 'website tracker'")],
    scope: Annotated[
        list[str], typer.Option(help=f"what the key may do; repeat for several. {scope_list()}")
    ] = ["ingest"],  # noqa: B006
    publishable: Annotated[
        bool,
        typer.Option(
            "--publishable",
            help="a key for a web page: tracker events only, from the --origin pages only, "
            "rate-limited; safe to publish",
        ),
    ] = False,
    origin: Annotated[
        list[str] | None,
        typer.Option(help=ORIGIN_HELP),
    ] = None,
    product: Annotated[
        list[str] | None,
        typer.Option(help="publishable: a product its events may name; repeat (default: any)"),
    ] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from nurture.api.auth import create_api_key, create_publishable_key

    if publishable:
        try:
            key = create_publishable_key(open_store(), name, origin or [], product or [])
        except ValueError as err:
            err_console.print(f"[red]{err}[/red]", highlight=False)
            raise typer.Exit(2) from None
        console.print(key, highlight=False)
        return
    if origin or product:
        err_console.print("[red]--origin and --product are for --publishable keys[/red]")
        raise typer.Exit(2)
    problem = scope_problem(scope)
    if problem:
        err_console.print(f"[red]{problem}[/red]", highlight=False)
        raise typer.Exit(2)
    key = create_api_key(open_store(), name, scope)  # type: ignore[arg-type]
    console.print(key, highlight=False)


@apikey.command("list")
def apikey_list() -> None:
    """The live keys: name, kind, scopes, and for publishable keys their origins, products
    and rate limits (the keys themselves are never stored)."""
    from rich.table import Table

    from nurture.api.auth import list_api_keys
    from nurture.api.browsers import PER_ADDRESS, PER_KEY

    table = Table(title="API keys")
    for column in ("name", "kind", "scopes", "origins", "products", "limits", "created"):
        table.add_column(column)
    limits = (f"{PER_KEY[0]:.0f}/s per key, {PER_ADDRESS[0]:.0f}/s per visitor "
              f"(bursts {PER_KEY[1]:.0f}, {PER_ADDRESS[1]:.0f})")  # fmt: skip
    for key in list_api_keys(open_store()):
        publishable = key.kind == "publishable"
        table.add_row(
            key.name,
            key.kind,
            key.scopes,
            (key.origins or "").replace(" ", "\n"),
            (key.products or "any") if publishable else "",
            limits if publishable else "none",
            f"{key.created_at:%Y-%m-%d}",
        )
    console.print(table)


@apikey.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Option(help="the name given at creation")]) -> None:
    """Revoke the keys of that name (within 10 s in running API processes)."""
    from nurture.api.auth import revoke_api_keys

    count = revoke_api_keys(open_store(), name)
    console.print(f"revoked {count} key(s) named {name!r}", highlight=False)
    if not count:
        raise typer.Exit(1)
