"""Liveness and readiness: is the process up; can it reach the store and Temporal."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {"store": "ok", "temporal": "ok"}
    try:
        await asyncio.to_thread(_ping_store, request)
    except Exception as err:
        checks["store"] = f"unreachable: {type(err).__name__}"
    try:
        client = await request.app.state.temporal.client()
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
    except Exception as err:
        checks["temporal"] = f"unreachable: {type(err).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(status_code=200 if ready else 503, content=checks)


def _ping_store(request: Request) -> None:
    with request.app.state.store.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
