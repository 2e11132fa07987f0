"""Many journeys at once: list and count them by their search attributes, and pause, resume
or stop them with one of Temporal's batch operations (`nurture journeys`, `/v1/journeys`).

A batch operation runs inside the Temporal server: durable, paced, resumed after a restart,
and listed under "Batch Operations" in the Temporal UI. Listing reads visibility only, so
it costs the journeys nothing (no query wakes a worker).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel
from temporalio.api.batch.v1 import BatchOperationSignal
from temporalio.api.enums.v1 import BatchOperationState
from temporalio.api.workflowservice.v1 import (
    DescribeBatchOperationRequest,
    StartBatchOperationRequest,
)
from temporalio.client import Client, WorkflowExecution

from nurture.journey import search_attributes as sa
from nurture.journey.contract import StopJourney
from nurture.rollout.queries import journeys_query

BulkAction = Literal["pause", "resume", "stop"]
BULK_ACTIONS: tuple[BulkAction, ...] = get_args(BulkAction)
DEFAULT_RATE = 50.0  # journeys per second a batch operation signals at most


class JourneyRow(BaseModel):
    """One journey as visibility sees it: categories and numbers, no personal data."""

    journey_id: str
    lead_id: str
    product: str
    stage: str | None
    lifecycle: str | None
    track: str | None
    score: int | None
    next_touch_at: datetime | None
    scenario_version: str | None
    started_at: datetime | None


class JourneyPage(BaseModel):
    journeys: list[JourneyRow]
    next_page_token: str | None = None


class BulkStatus(BaseModel):
    job_id: str
    action: str
    state: Literal["running", "completed", "failed", "unknown"]
    total: int
    done: int
    failed: int
    query: str


def _row(execution: WorkflowExecution) -> JourneyRow:
    attributes = execution.typed_search_attributes
    product, _, lead_id = execution.id.removeprefix("journey:").partition(":")
    return JourneyRow(
        journey_id=execution.id,
        lead_id=lead_id,
        product=attributes.get(sa.PRODUCT) or product,
        stage=attributes.get(sa.STAGE),
        lifecycle=attributes.get(sa.LIFECYCLE),
        track=attributes.get(sa.TRACK),
        score=attributes.get(sa.SCORE),
        next_touch_at=attributes.get(sa.NEXT_TOUCH),
        scenario_version=attributes.get(sa.SCENARIO_VERSION),
        started_at=execution.start_time,
    )


class BadPageToken(ValueError):
    """A page token this list did not give out (visibility would fail on it obscurely)."""


def _seal(token: bytes, secret: str) -> str:
    mac = hmac.new(secret.encode(), token, hashlib.sha256).hexdigest()[:32]
    return f"{token.hex()}.{mac}"


def _unseal(sealed: str, secret: str) -> bytes:
    raw = sealed.partition(".")[0]
    try:
        token = bytes.fromhex(raw)
    except ValueError:
        token = b""
    if not token or not hmac.compare_digest(_seal(token, secret), sealed):
        raise BadPageToken("page_token is not one this list gave out: start from the first page")
    return token


async def list_page(
    client: Client,
    product: str,
    where: str | None = None,
    *,
    secret: str,
    page_size: int = 100,
    page_token: str | None = None,
) -> JourneyPage:
    """One page of the product's running journeys matching `where`. Page tokens are sealed
    with `secret`: visibility's own would be taken as given, and a forged one fails deep
    inside the server."""
    listing = client.list_workflows(
        journeys_query(product, where),
        page_size=page_size,
        next_page_token=_unseal(page_token, secret) if page_token else None,
    )
    await listing.fetch_next_page(page_size=page_size)
    token = listing.next_page_token
    return JourneyPage(
        journeys=[_row(e) for e in listing.current_page or []],
        next_page_token=_seal(token, secret) if token else None,
    )


async def count(client: Client, product: str, where: str | None = None) -> int:
    return (await client.count_workflows(journeys_query(product, where))).count


async def start(
    client: Client,
    action: BulkAction,
    product: str,
    where: str | None = None,
    *,
    reason: str = "",
    by: str = "nurture",
    rate: float = DEFAULT_RATE,
) -> str:
    """Signal every matching journey `action` in a server-side batch operation; its job id."""
    job_id = f"nurture-{action}-{product}-{uuid.uuid4().hex[:12]}"
    args = [StopJourney(reason=reason or "stopped by an operator")] if action == "stop" else []
    payloads = await client.data_converter.encode(args)
    operation = BatchOperationSignal(signal=action, identity=by)
    if payloads:
        operation.input.payloads.extend(payloads)
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace,
            visibility_query=journeys_query(product, where),
            job_id=job_id,
            reason=reason or f"{action} {product} journeys",
            max_operations_per_second=rate,
            signal_operation=operation,
        )
    )
    return job_id


async def status(client: Client, job_id: str) -> BulkStatus:
    described = await client.workflow_service.describe_batch_operation(
        DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
    )
    states = {
        BatchOperationState.BATCH_OPERATION_STATE_RUNNING: "running",
        BatchOperationState.BATCH_OPERATION_STATE_COMPLETED: "completed",
        BatchOperationState.BATCH_OPERATION_STATE_FAILED: "failed",
    }
    action = job_id.split("-")[1] if job_id.startswith("nurture-") else "signal"
    return BulkStatus(
        job_id=job_id,
        action=action,
        state=states.get(described.state, "unknown"),
        total=described.total_operation_count,
        done=described.complete_operation_count,
        failed=described.failure_operation_count,
        query=described.query,
    )
