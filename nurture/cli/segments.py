"""`nurture segment`: who is in a segment now, answered from the store."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from nurture.cli.common import console, err_console, open_store
from nurture.config import get_settings

if TYPE_CHECKING:
    from nurture.segments.membership import SegmentBook
    from nurture.store.engine import Store

segment = typer.Typer(help="Segments: leads by who they are and what they did.",
                      no_args_is_help=True)  # fmt: skip

Name = Annotated[str, typer.Argument(help="the segment's name")]


def _book() -> tuple[Store, SegmentBook]:
    from nurture.segments.membership import segment_book

    store = open_store()
    return store, segment_book(get_settings().scenarios_dir, store)


@segment.command("count")
def segment_count(name: Name) -> None:
    """How many leads are in the segment now."""
    from nurture.segments.membership import count

    store, book = _book()
    console.print(count(store, book, name))


@segment.command("list")
def segment_list(
    name: Name,
    limit: Annotated[int, typer.Option(help="at most this many lead ids", min=1)] = 100,
    after: Annotated[str | None, typer.Option(help="lead ids after this one (paging)")] = None,
) -> None:
    """The segment's lead ids, in id order (opaque ids: no personal data)."""
    from nurture.segments.membership import lead_ids

    store, book = _book()
    for lead_id in lead_ids(store, book, name, after=after, limit=limit):
        console.print(lead_id, highlight=False)


@segment.command("export")
def segment_export(
    name: Name,
    output: Annotated[
        typer.FileTextWrite | None,
        typer.Option("--output", "-o", help="CSV file (default: stdout)"),
    ] = None,
) -> None:
    """The segment's leads as CSV: their fields, and one column per declared attribute."""
    from nurture.segments.membership import EXPORT_FIELDS, export_rows

    store, book = _book()
    declared = sorted(book.known.attributes.declared)
    columns = [*EXPORT_FIELDS, *(f"attributes.{n}" for n in declared)]
    out = output or sys.stdout
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    rows = 0
    for row in export_rows(store, book, name):
        writer.writerow(row)
        rows += 1
    err_console.print(f"{rows} leads exported from segment {name!r}", highlight=False)


@segment.command("show")
def segment_show(name: Name) -> None:
    """The segment's definition (as JSON) and where it is kept."""
    _, book = _book()
    definition = book.get(name).definition()
    where = "scenarios/segments.yaml" if name in book.from_file else "saved through the API"
    console.print_json(json.dumps(definition))
    err_console.print(f"segment {name!r}: {where}", highlight=False)


@segment.command("check")
def segment_check() -> None:
    """Validate scenarios/segments.yaml: every problem with its file and line."""
    from nurture.segments.definitions import SegmentError, load_segment_file
    from nurture.segments.membership import known_to

    root = get_settings().scenarios_dir
    try:
        found = load_segment_file(root, known_to(root))
    except SegmentError as err:
        for problem in err.problems:
            err_console.print(str(problem), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"{len(found)} segments OK", highlight=False)
