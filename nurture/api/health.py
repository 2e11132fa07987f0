"""Liveness and readiness: is the process up; can it reach the store and Temporal.

A failed check answers with the kind of error only; its message (which names hosts, ports
and database URLs) goes to the log: /readyz is often reachable by more than operators.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from nurture.api.auth import require
from nurture.observability.exposition import CONTENT_TYPE, latest

router = APIRouter(tags=["health"])
log = logging.getLogger("nurture.api.health")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/metrics", response_class=PlainTextResponse, dependencies=[Depends(require("metrics"))]
)
async def metrics() -> PlainTextResponse:
    """Nurture's counters in Prometheus' text format (no personal data in any label); a key
    with the `metrics` scope: the tracker API is public, its volumes are not."""
    return PlainTextResponse(latest(), media_type=CONTENT_TYPE)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {"store": "ok", "temporal": "ok"}
    try:
        await asyncio.to_thread(_ping_store, request)
    except Exception as err:
        checks["store"] = _unreachable("store", err)
    try:
        client = await request.app.state.temporal.client()
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
    except Exception as err:
        checks["temporal"] = _unreachable("Temporal", err)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(status_code=200 if ready else 503, content=checks)


def _ping_store(request: Request) -> None:
    with request.app.state.store.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _unreachable(what: str, err: Exception) -> str:
    log.warning("readiness: %s unreachable: %s", what, err)
    return f"unreachable: {type(err).__name__}"
