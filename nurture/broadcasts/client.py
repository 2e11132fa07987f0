"""Scheduling, holding and reading broadcasts: what the CLI and the API share."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from nurture.broadcasts.content import BroadcastError
from nurture.broadcasts.contract import (
    WORKFLOW_TYPE,
    BroadcastInput,
    BroadcastProgress,
    broadcast_workflow_id,
)
from nurture.broadcasts.records import freeze_recipients, get_broadcast, set_state
from nurture.config import Settings
from nurture.segments.membership import segment_book
from nurture.store.engine import Store
from nurture.store.models import utcnow


async def schedule_broadcast(
    client: Client, settings: Settings, store: Store, broadcast_id: str, rate: float = 50.0
) -> int:
    """Freeze the recipients now (the count is exact from here on) and start the durable
    `Broadcast`; returns how many leads it will reach. Only a draft can be scheduled."""
    row = await asyncio.to_thread(get_broadcast, store, broadcast_id)
    if row.state != "draft":
        raise BroadcastError(
            f"broadcast {broadcast_id!r} is {row.state}; only a draft can be scheduled "
            "(create another to send it again)"
        )
    book = await asyncio.to_thread(segment_book, settings.scenarios_dir, store)
    recipients = await asyncio.to_thread(freeze_recipients, store, broadcast_id, book, utcnow())
    await client.start_workflow(
        WORKFLOW_TYPE,
        BroadcastInput(broadcast_id=broadcast_id, rate=rate),
        id=broadcast_workflow_id(broadcast_id),
        task_queue=settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    await asyncio.to_thread(set_state, store, broadcast_id, "scheduled", only_from=("draft",))
    return recipients


def handle_of(client: Client, broadcast_id: str) -> WorkflowHandle[object, BroadcastProgress]:
    return client.get_workflow_handle(
        broadcast_workflow_id(broadcast_id), result_type=BroadcastProgress
    )


async def progress_of(client: Client, broadcast_id: str) -> BroadcastProgress | None:
    """The running (or finished) broadcast's progress; None when it never started."""
    try:
        return await handle_of(client, broadcast_id).query(
            "progress", result_type=BroadcastProgress
        )
    except RPCError:
        return None
