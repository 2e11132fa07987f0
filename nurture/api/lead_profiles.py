"""Telling a lead's running journeys that its profile changed, in the API's words."""

from __future__ import annotations

from fastapi import Request
from temporalio.service import RPCError

from nurture.api.errors import temporal_down
from nurture.journey import client as journeys
from nurture.store.models import Lead


async def tell_journeys(request: Request, lead: Lead) -> list[str]:
    """The lead's running journeys learn its profile as stored now
    (`nurture.journey.client.tell_journeys`); Temporal away is a 503 (the store has the
    change; repeating the call tells them). Returns the products told."""
    try:
        client = await request.app.state.temporal.client()
        return await journeys.tell_journeys(client, request.app.state.store, lead)
    except (RPCError, OSError, TimeoutError, RuntimeError) as err:
        raise temporal_down(err, f"lead {lead.id} stored, but ") from None
