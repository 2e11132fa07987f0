"""What Segment's browser SDK fetches as it loads: `/v1/projects/{writeKey}/settings`.

`@segment/analytics-next` loads its settings from `{cdnURL}/v1/projects/{writeKey}/settings`;
with `cdnURL` set to Nurture's address it gets them here, for a live publishable key asked
from one of its origins: one destination, "Segment.io", whose API host is Nurture
(`{NURTURE_PUBLIC_BASE_URL}/v1`), no other destinations, and no metrics sent to Segment.
Any other key, or another origin, is a 404: the path names a key, so it must not tell
which keys exist.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from nurture.api.auth import key_hash, live_key

router = APIRouter(tags=["tracking"])


@router.get("/projects/{write_key}/settings", include_in_schema=False)
async def segment_settings(write_key: str, request: Request) -> JSONResponse:
    origin = request.headers.get("origin", "")
    key = await live_key(request.app.state.store, key_hash(write_key))
    if key is None or not key.publishable or origin not in key.origins:
        raise HTTPException(404, "no settings here for this key and origin")
    public = urlsplit(request.app.state.settings.public_base_url)
    return JSONResponse(
        settings_for(write_key, public.scheme, f"{public.netloc}{public.path.rstrip('/')}/v1"),
        headers={"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                 "Cache-Control": "no-store"},
    )  # fmt: skip


def settings_for(write_key: str, protocol: str, api_host: str) -> dict[str, Any]:
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": False,
            }
        },
        "plan": {"track": {"__default": {"enabled": True}}},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
