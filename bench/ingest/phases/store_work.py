"""The store's work per request: the API's own code in this process, one request at a time.

Without the relay (the uvicorn relays deliver what it stores), on the same database, so
`counted` (bench/harness/sql.py) sees one request's statements, commits and round trips.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from bench.harness.sql import Profile, counted
from bench.ingest.config import BATCH_SIZE, PROFILE_BATCHES, PROFILE_SINGLES
from bench.ingest.load import batches, singles, spread
from nurture.api.app import create_app
from nurture.config import Settings
from nurture.store.models import Lead


async def store_work(
    settings: Settings, key: str, leads: Sequence[Lead], tag: str
) -> dict[str, Profile]:
    """The API's own code on the same database, one request at a time, without the relay
    (the uvicorn relays deliver what it stores), so the counters see one request each."""
    app = create_app(settings, relay=False)
    results: dict[str, Profile] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://nurture", headers=headers
        ) as http:
            kinds = {
                "single": singles(spread(f"{tag}-s", PROFILE_SINGLES, leads, "Bench Event")),
                f"batch of {BATCH_SIZE}": batches(
                    spread(f"{tag}-b", PROFILE_BATCHES * BATCH_SIZE, leads, "Bench Event")
                ),
            }
            for kind, calls in kinds.items():
                await http.post(calls[0].path, json=calls[0].body)  # warm: compile, connect
                work = results[kind] = Profile()
                with counted(app.state.store.engine) as work.db:
                    for call in calls[1:]:
                        started = time.perf_counter()
                        response = await http.post(call.path, json=call.body)
                        work.wall += time.perf_counter() - started
                        response.raise_for_status()
                        work.count += 1
    return results
