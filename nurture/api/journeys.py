"""Many journeys over HTTP (`/v1/journeys`, the `admin` scope): list and count them by a
visibility query, and pause, resume or stop them with a Temporal batch operation.

A bulk action names the count it expects (`expected`, from a count or list just before):
when the query matches another number the action is refused with 409 and the count, so a
query typed wrong never pauses a whole product.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from temporalio.service import RPCError, RPCStatusCode

from nurture.api.auth import require
from nurture.api.errors import temporal_down
from nurture.journey import bulk
from nurture.rollout.queries import BadQuery, journeys_query

router = APIRouter(tags=["journeys"])
T = TypeVar("T")
Product = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Where = Annotated[
    str | None,
    Query(max_length=2000, description='visibility query, e.g. LeadStage="hot"'),
]


class JourneyCount(BaseModel):
    product: str
    where: str | None
    count: int


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    where: str | None = Field(default=None, max_length=2000)
    expected: StrictInt = Field(ge=0, description="how many journeys the caller means to change")
    reason: str = Field(default="", max_length=500)
    rate: float = Field(default=bulk.DEFAULT_RATE, gt=0, le=1000)


async def _run(call: Awaitable[T]) -> T:
    """Temporal's answers as HTTP: a bad query is 422, an outage 503."""
    try:
        return await call
    except (BadQuery, bulk.BadPageToken) as err:
        raise HTTPException(422, str(err)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise HTTPException(422, f"the query was refused: {err.message}") from None
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, err.message) from None
        if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:  # Temporal runs few at a time
            raise HTTPException(
                409,
                "another bulk action is still running in this namespace; wait for it to "
                "finish (GET /v1/journeys/batches/{job_id}), then send this again",
            ) from None
        raise temporal_down(err) from None
    except (OSError, TimeoutError, RuntimeError) as err:
        raise temporal_down(err) from None


@router.get("/journeys", dependencies=[Depends(require("admin"))])
async def list_journeys(
    request: Request,
    product: Product,
    where: Where = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(max_length=4000)] = None,
) -> bulk.JourneyPage:
    """Running journeys with stage, score, lifecycle, track and next touch, a page at a time."""
    client = await _run(request.app.state.temporal.client())
    return await _run(
        bulk.list_page(
            client,
            product,
            where,
            secret=request.app.state.settings.secret_key,
            page_size=page_size,
            page_token=page_token,
        )
    )


@router.get("/journeys/count", dependencies=[Depends(require("admin"))])
async def count_journeys(request: Request, product: Product, where: Where = None) -> JourneyCount:
    client = await _run(request.app.state.temporal.client())
    found = await _run(bulk.count(client, product, where))
    return JourneyCount(product=product, where=where, count=found)


@router.post("/journeys/pause", status_code=202, dependencies=[Depends(require("admin"))])
async def pause(body: BulkRequest, request: Request) -> bulk.BulkStatus:
    """No more email from the matching journeys until resumed; 202 with the batch job."""
    return await _act("pause", body, request)


@router.post("/journeys/resume", status_code=202, dependencies=[Depends(require("admin"))])
async def resume(body: BulkRequest, request: Request) -> bulk.BulkStatus:
    """Email again from the matching paused journeys; 202 with the batch job."""
    return await _act("resume", body, request)


@router.post("/journeys/stop", status_code=202, dependencies=[Depends(require("admin"))])
async def stop(body: BulkRequest, request: Request) -> bulk.BulkStatus:
    """End the matching journeys for good; 202 with the batch job."""
    return await _act("stop", body, request)


async def _act(action: bulk.BulkAction, body: BulkRequest, request: Request) -> bulk.BulkStatus:
    """Start a batch operation that signals every matching journey, if the count agrees."""
    client = await _run(request.app.state.temporal.client())
    found = await _run(bulk.count(client, body.product, body.where))
    if found != body.expected:
        raise HTTPException(
            409,
            f"the query matches {found} running journeys, not the {body.expected} expected: "
            "count again, then send that number",
        )
    if found == 0:  # nothing to signal: no batch operation is spent on it
        query = journeys_query(body.product, body.where)
        return bulk.BulkStatus(
            job_id="", action=action, state="completed", total=0, done=0, failed=0, query=query
        )
    job_id = await _run(
        bulk.start(client, action, body.product, body.where, reason=body.reason, rate=body.rate)
    )
    return await _status(request, job_id)


@router.get("/journeys/batches/{job_id}", dependencies=[Depends(require("admin"))])
async def batch(job_id: str, request: Request) -> bulk.BulkStatus:
    """How far a bulk action is."""
    return await _status(request, job_id)


async def _status(request: Request, job_id: str) -> bulk.BulkStatus:
    client = await _run(request.app.state.temporal.client())
    found = await _run(bulk.status(client, job_id))
    return found
