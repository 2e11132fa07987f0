"""Telling a lead's running journeys that its profile changed (a new title, an attribute)."""

from __future__ import annotations

import asyncio

from fastapi import Request
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from nurture.api.errors import temporal_down
from nurture.journey.client import tell_profile
from nurture.store.engine import Store, profile_of
from nurture.store.models import Journey, Lead


async def tell_journeys(request: Request, lead: Lead) -> list[str]:
    """The lead's running journeys learn its profile as stored now, rescore, and judge
    their conditions on the lead anew. A closed journey is skipped; Temporal away is a 503
    (the store has the change; repeating the call tells them). Returns the products told."""
    store: Store = request.app.state.store
    products = await asyncio.to_thread(journey_products, store, lead.id)
    profile = profile_of(lead)
    told = []
    for product in products:
        try:
            client = await request.app.state.temporal.client()
            await tell_profile(client, product, lead.id, profile)
            told.append(product)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise temporal_down(err, f"lead {lead.id} stored, but ") from None
        except (OSError, TimeoutError, RuntimeError) as err:
            raise temporal_down(err, f"lead {lead.id} stored, but ") from None
    return told


def journey_products(store: Store, lead_id: str) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Journey.product).where(Journey.lead_id == lead_id)))
