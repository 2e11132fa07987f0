"""`nurture broadcast`: one-off messages to a segment, sent through each lead's journey."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from nurture.cli.common import console, err_console, exit_after_temporal, open_store
from nurture.config import get_settings

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")
broadcast = typer.Typer(
    help="Broadcasts: a message to a segment, through each lead's journey.", no_args_is_help=True
)
Id = Annotated[str, typer.Argument(help="the broadcast's id (a slug)")]


@broadcast.command("create")
def create(
    broadcast_id: Id,
    product: Annotated[str, typer.Option(help="whose sender, window and templates")],
    segment: Annotated[str, typer.Option(help="whom: a segment's name")],
    subject: Annotated[list[str], typer.Option(help="a subject; repeat for an A/B test")],
    template: Annotated[
        list[str], typer.Option(help="a template of the product; one, or one per subject")
    ],
    at: Annotated[
        str | None,
        typer.Option(help="when (ISO 8601, e.g. 2027-01-12T10:00+09:00); default: on schedule"),
    ] = None,
    local_time: Annotated[
        bool, typer.Option("--local-time", help="--at's hour in each lead's time zone")
    ] = False,
    line_template: Annotated[
        str | None,
        typer.Option(help="on LINE: a <name>.line.json of the product; the email is its fallback"),
    ] = None,
    alt_text: Annotated[str, typer.Option(help="on LINE: what a notification shows")] = "",
    no_fallback: Annotated[
        bool, typer.Option("--no-fallback", help="on LINE: nothing for a lead not on LINE")
    ] = False,
) -> None:
    """Create a draft: its templates are frozen now and checked like a scenario's."""
    from nurture.broadcasts.content import BroadcastError, freeze_content
    from nurture.broadcasts.contract import Variant
    from nurture.broadcasts.records import create_broadcast
    from nurture.scenario.model import SLUG, LineMessage

    if not SLUG.match(broadcast_id):
        raise BroadcastError(f"broadcast id {broadcast_id!r} must be a slug, e.g. 'seminar-jan'")
    if len(template) not in (1, len(subject)):
        raise BroadcastError("give one --template, or one per --subject")
    templates = template * len(subject) if len(template) == 1 else template
    variants = [Variant(subject=s, template=t) for s, t in zip(subject, templates, strict=True)]
    send_at = _moment(at, local_time) if at else None
    store = open_store()
    from nurture.segments.membership import count, segment_book

    book = segment_book(get_settings().scenarios_dir, store)
    book.get(segment)
    line = (
        LineMessage(template=line_template, alt_text=alt_text or subject[0])
        if line_template
        else None
    )
    content = freeze_content(
        get_settings().scenarios_dir, product, variants, line, "none" if no_fallback else "email"
    )
    create_broadcast(
        store, broadcast_id=broadcast_id, product=product, segment=segment, content=content,
        send_at=send_at, local_time=local_time, mail_type="newsletter", by="cli",
    )  # fmt: skip
    console.print(
        f"broadcast {broadcast_id} created (draft): {len(variants)} variant(s) to segment "
        f"{segment!r}, {count(store, book, segment)} leads now; preview it, then "
        f"`nurture broadcast schedule {broadcast_id}`",
        highlight=False,
        soft_wrap=True,
    )


def _moment(text: str, local_time: bool) -> datetime:
    from nurture.broadcasts.content import BroadcastError, send_moment

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BroadcastError(
            f"--at {text!r} is not ISO 8601, e.g. 2027-01-12T10:00+09:00"
        ) from None
    return send_moment(moment, local_time)


@broadcast.command("preview")
def preview(
    broadcast_id: Id,
    lead: Annotated[str | None, typer.Option(help="a lead id (default: a sample lead)")] = None,
) -> None:
    """Each variant as a lead would read it (subject and text)."""
    from nurture.broadcasts.preview import render_preview
    from nurture.broadcasts.records import get_broadcast

    store = open_store()
    row = get_broadcast(store, broadcast_id)
    found = store.get_lead(lead) if lead else None
    if lead and found is None:
        raise LookupError(f"no lead {lead!r}")
    for i, email in enumerate(render_preview(get_settings().scenarios_dir, row, found)):
        console.rule(f"variant {chr(ord('A') + i)}: {email.subject}")
        console.print(email.text, highlight=False, markup=False)


@broadcast.command("schedule")
def schedule(
    broadcast_id: Id,
    rate: Annotated[float, typer.Option(help="leads handed over per second, at most")] = 50.0,
) -> None:
    """Freeze its recipients now and start sending at its time."""
    from nurture.broadcasts.client import schedule_broadcast
    from nurture.broadcasts.records import get_broadcast

    store = open_store()

    async def run(client: Client) -> int:
        return await schedule_broadcast(client, get_settings(), store, broadcast_id, rate)

    recipients = _with_temporal(run)
    row = get_broadcast(store, broadcast_id)
    when = f"at {row.send_at:%Y-%m-%d %H:%M} UTC" if row.send_at else "now"
    if row.local_time and row.send_at:
        when = f"at {row.send_at:%Y-%m-%d %H:%M} in each lead's time zone"
    console.print(
        f"broadcast {broadcast_id} scheduled: {recipients} recipients frozen; sending {when}",
        highlight=False,
    )
    exit_after_temporal(0)


@broadcast.command("status")
def status(broadcast_id: Id) -> None:
    """Recipients, hand-overs, sends by outcome, and why some were not sent."""
    from nurture.broadcasts.client import progress_of
    from nurture.broadcasts.records import broadcast_status

    store = open_store()
    found = broadcast_status(store, broadcast_id)
    progress = _with_temporal(lambda client: progress_of(client, broadcast_id))
    console.print(f"broadcast {broadcast_id} ({found.product}, segment {found.segment}): "
                  f"{found.state}, {found.recipients} recipients", highlight=False)  # fmt: skip
    if progress is not None:
        console.print(f"  workflow: {progress.state}, {progress.handed} of "
                      f"{progress.recipients} handed over", highlight=False)  # fmt: skip
    for what, counts in (("handed over", found.handed), ("sends", found.sends)):
        said = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none yet"
        console.print(f"  {what}: {said}", highlight=False)
    for reason, n in sorted(found.reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  {n} × {reason}", highlight=False, markup=False)
    exit_after_temporal(0)


@broadcast.command("list")
def list_() -> None:
    """Every broadcast, oldest first."""
    from nurture.broadcasts.records import list_broadcasts

    for row in list_broadcasts(open_store()):
        when = f"{row.send_at:%Y-%m-%d %H:%M}" if row.send_at else "on schedule"
        console.print(f"{row.id}  {row.product}  {row.segment}  {row.state}  {when}  "
                      f"{row.recipients} recipients", highlight=False)  # fmt: skip


def _hold(broadcast_id: str, action: str) -> None:
    from nurture.broadcasts.client import handle_of
    from nurture.broadcasts.records import get_broadcast, set_state

    store = open_store()
    row = get_broadcast(store, broadcast_id)
    if action == "cancel" and row.state == "draft":
        set_state(store, broadcast_id, "cancelled", only_from=("draft",))
    else:

        async def act(client: Client) -> None:
            handle = handle_of(client, broadcast_id)
            await (handle.cancel() if action == "cancel" else handle.signal(action))

        _with_temporal(act)
    err_console.print(f"broadcast {broadcast_id}: {action} asked", highlight=False)
    exit_after_temporal(0)


@broadcast.command("pause")
def pause(broadcast_id: Id) -> None:
    """Hold the hand-overs (journeys that have it still send it)."""
    _hold(broadcast_id, "pause")


@broadcast.command("resume")
def resume(broadcast_id: Id) -> None:
    _hold(broadcast_id, "resume")


@broadcast.command("cancel")
def cancel(broadcast_id: Id) -> None:
    """Stop it: no more hand-overs (journeys that have it still send it)."""
    _hold(broadcast_id, "cancel")


def _with_temporal(work: Callable[[Client], Awaitable[T]]) -> T:
    from nurture.temporal import connect

    async def run() -> T:
        return await work(await connect(get_settings()))

    return asyncio.run(run())
