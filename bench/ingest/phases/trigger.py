"""Trigger emails: tracker event → email sent, at a steady rate and one at a time.

Trigger leads (bench/scenarios/ingest) get `Bench Trigger` events paced at --trigger-rate;
each event fires a trigger email at once, and its latency runs from the POST to the
`sends` row's `sent_at`, split at the relay's `delivered_at`. Then a few events one at a
time, each awaited to its email: the path's own latency with nothing queued ahead of it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import select

from bench.harness.cpu import Usage, metered
from bench.harness.databases import as_utc
from bench.harness.report import print_line, quantile
from bench.harness.waiting import until
from bench.ingest.config import DRAIN_LIMIT, SAMPLE, SOLO, TRIGGER_PRODUCT
from bench.ingest.load import Call, drive, paced, singles, spread, track_body
from bench.ingest.phases.trigger_path import TriggerPath, trigger_path
from bench.ingest.stack import Cohorts, Stack
from nurture.journey.contract import journey_id
from nurture.store.engine import Store
from nurture.store.models import EventDelivery, Lead, Send


@dataclass
class Triggers:
    posted: int = 0
    emails: int = 0
    unmatched: int = 0  # events of leads whose sends did not pair one to one (cool-down)
    latencies: list[float] = field(default_factory=list)  # POST → sent_at
    to_relay: list[float] = field(default_factory=list)  # POST → delivered_at (relay signalled)
    to_send: list[float] = field(default_factory=list)  # delivered_at → sent_at
    path: TriggerPath = field(default_factory=TriggerPath)
    solo: list[float] = field(default_factory=list)  # POST → sent_at, one at a time


def trigger_sends(store: Store, lead_ids: Sequence[str]) -> list[tuple[str, int, datetime]]:
    with store.session() as session:
        rows = session.execute(
            select(Send.lead_id, Send.send_key, Send.sent_at).where(
                Send.product == TRIGGER_PRODUCT,
                Send.mail_type == "trigger",
                Send.status == "sent",
                Send.lead_id.in_(lead_ids),
            )
        ).all()
    return [(lead, int(key.rsplit("#", 1)[1]), as_utc(at)) for lead, key, at in rows if at]


def delivered_at(store: Store, prefix: str) -> dict[str, datetime]:
    with store.session() as session:
        rows = session.execute(
            select(EventDelivery.event_id, EventDelivery.delivered_at).where(
                EventDelivery.event_id.like(f"{prefix}-%"), EventDelivery.delivered_at.is_not(None)
            )
        ).all()
    return {event_id: as_utc(at) for event_id, at in rows if at}


async def trigger_latency(
    http: httpx.AsyncClient,
    store: Store,
    leads: Sequence[Lead],
    tag: str,
    rate: float,
    seconds: float,
    concurrency: int,
) -> Triggers:
    """Each lead's k-th event fires its k-th trigger email (send key `#k`), as long as its
    events are further apart than the 1 s cool-down: leads × 1/rate s apart here."""
    lead_ids = [lead.id for lead in leads]
    before: dict[str, int] = defaultdict(int)  # each lead's last send key of earlier phases
    for lead_id, k, _ in await asyncio.to_thread(trigger_sends, store, lead_ids):
        before[lead_id] = max(before[lead_id], k)
    events = spread(tag, round(rate * seconds), leads, "Bench Trigger")
    load = await paced(http, singles(events), rate, concurrency)
    result = Triggers(posted=load.accepted)

    async def new_sends() -> list[tuple[str, int, datetime]]:
        rows = await asyncio.to_thread(trigger_sends, store, lead_ids)
        return [(lead, k - before[lead], at) for lead, k, at in rows if k > before[lead]]

    async def all_sent() -> bool:
        result.emails = len(await new_sends())
        return result.emails >= load.accepted

    await until("trigger emails", all_sent, DRAIN_LIMIT)
    rows = await new_sends()
    relayed = await asyncio.to_thread(delivered_at, store, tag)
    posted: dict[str, list[str]] = defaultdict(list)  # lead → its message ids, in send order
    for message_id, lead, _ in events:
        if message_id in load.sent_at:
            posted[lead.id].append(message_id)
    emails: dict[str, dict[int, datetime]] = defaultdict(dict)
    for lead_id, k, at in rows:
        emails[lead_id][k] = at
    for lead_id, message_ids in posted.items():
        if len(emails[lead_id]) != len(message_ids):
            result.unmatched += len(message_ids)
            continue
        for k, message_id in enumerate(message_ids, start=1):
            post = load.sent_at[message_id]
            sent = emails[lead_id][k].timestamp()
            result.latencies.append(sent - post)
            if message_id in relayed:
                result.to_relay.append(relayed[message_id].timestamp() - post)
                result.to_send.append(sent - relayed[message_id].timestamp())
    return result


async def _new_email(store: Store, lead_id: str, known: set[int]) -> datetime | None:
    rows = await asyncio.to_thread(trigger_sends, store, [lead_id])
    return min((at for _, k, at in rows if k not in known), default=None)


async def solo_triggers(
    http: httpx.AsyncClient, store: Store, leads: Sequence[Lead], tag: str
) -> list[float]:
    """One trigger event at a time, each awaited to its email: the path's own latency with
    nothing queued ahead of it, beside the latency at the steady rate."""
    latencies = []
    for n, lead in enumerate(leads):
        known = {k for _, k, _ in await asyncio.to_thread(trigger_sends, store, [lead.id])}
        message_id = f"{tag}-{n}"
        body = track_body(message_id, str(lead.external_id), "Bench Trigger", n)
        load = await drive(http, [Call("/v1/track", body, ((message_id, lead.id),))], 1)
        deadline = time.monotonic() + 10
        while load.accepted and time.monotonic() < deadline:
            sent = await _new_email(store, lead.id, known)
            if sent is not None:
                latencies.append(sent.timestamp() - load.first_sent)
                break
            await asyncio.sleep(0.05)
    return latencies


async def trigger_phase(
    stack: Stack, who: Cohorts, args: argparse.Namespace
) -> tuple[Triggers, Usage]:
    """Paced from this process: with the worker in its own processes, httpx at 50/s no
    longer shares a GIL with the journeys or the emails."""
    print(
        f"trigger emails at {args.trigger_rate:.0f} events/s for {args.trigger_seconds:.0f} s …",
        flush=True,
    )
    leads, tag = who.trigger_leads, f"{who.tag}-t"
    with metered(stack.pids.snapshot) as usage:
        triggers = await trigger_latency(
            stack.http,
            stack.store,
            leads,
            tag,
            args.trigger_rate,
            args.trigger_seconds,
            args.concurrency,
        )
    await asyncio.sleep(1.5)  # past the 1 s cool-down of the last triggers
    triggers.solo = await solo_triggers(stack.http, stack.store, leads[:SOLO], f"{who.tag}-s")
    step = max(1, len(leads) // SAMPLE)
    triggers.path = await trigger_path(
        stack.client, [journey_id(TRIGGER_PRODUCT, x.id) for x in leads[::step][:SAMPLE]], tag
    )
    print_line(
        "trigger: POST → email sent",
        f"p50 {quantile(triggers.latencies, 0.5):.3f} s · "
        f"p99 {quantile(triggers.latencies, 0.99):.3f} s "
        f"({len(triggers.latencies)} of {triggers.posted})",
    )
    print_line(
        "trigger, one at a time: POST → email sent",
        f"p50 {quantile(triggers.solo, 0.5):.3f} s · max "
        f"{max(triggers.solo, default=math.nan):.3f} s ({len(triggers.solo)} of {SOLO})",
    )
    return triggers, usage
