"""What the browser SDKs fetch as they load: Segment's `/v1/projects/{writeKey}/settings`
and RudderStack's `/v1/sourceConfig/?writeKey=`.

`@segment/analytics-next` loads its settings from `{cdnURL}/v1/projects/{writeKey}/settings`;
with `cdnURL` set to Nurture's address it gets them here, for a live publishable key asked
from one of its origins: one destination, "Segment.io", whose API host is Nurture
(`{NURTURE_PUBLIC_BASE_URL}/v1`), no other destinations, and no metrics sent to Segment.
`@rudderstack/analytics-js` loads its source configuration from `{configUrl}/sourceConfig/`;
with `configUrl` set to `{Nurture}/v1` it gets one here: a source with no destinations, its
error and metrics reporting to RudderStack off, so events go to the data plane URL it is
given (Nurture) and nowhere else. Any other key, or another origin, is a 404: the path
names a key, so it must not tell which keys exist.
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
    origin = await _origin_of(request, write_key)
    public = urlsplit(request.app.state.settings.public_base_url)
    api_host = f"{public.netloc}{public.path.rstrip('/')}/v1"
    return _for_page(settings_for(write_key, public.scheme, api_host), origin)


@router.get("/sourceConfig/", include_in_schema=False)
async def rudderstack_source_config(request: Request, writeKey: str = "") -> JSONResponse:
    origin = await _origin_of(request, writeKey)
    return _for_page(source_config_for(writeKey), origin)


async def _origin_of(request: Request, write_key: str) -> str:
    """The page's origin, if `write_key` is a live publishable key for it; else 404."""
    origin = request.headers.get("origin", "")
    key = await live_key(request.app.state.store, key_hash(write_key))
    if key is None or not key.publishable or origin not in key.origins:
        raise HTTPException(404, "no settings here for this key and origin")
    return origin


def _for_page(content: dict[str, Any], origin: str) -> JSONResponse:
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Cache-Control": "no-store"}
    return JSONResponse(content, headers=headers)


def source_config_for(write_key: str) -> dict[str, Any]:
    return {
        "isHosted": False,
        "source": {
            "id": "nurture",
            "name": "Nurture",
            "writeKey": write_key,
            "workspaceId": "nurture",
            "enabled": True,
            "config": {
                "statsCollection": {"errors": {"enabled": False}, "metrics": {"enabled": False}}
            },
            "destinations": [],
        },
    }


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
