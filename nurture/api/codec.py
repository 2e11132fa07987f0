"""The codec server: the Temporal Web UI sends the encrypted payloads it shows here to have
them opened (and, when a person starts or signals a workflow from the UI, sealed).

Only an authorised person may read lead data this way: a request must carry an API key
with the `decode` scope (or `admin`), or the dashboard's session cookie of an admin key
(the UI sends it when "include cross-origin credentials" is on). Both are checked before
the body is read. Answers carry CORS headers for the UI's origin (NURTURE_TEMPORAL_UI_URL)
alone. The endpoint to give the UI is `<public API URL>/dashboard/codec` (under the dashboard,
where its session cookie is sent).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from nurture.api.auth import check_key, live_scopes, presented_key
from nurture.api.limits import max_body
from nurture.config import Settings
from nurture.dashboard import session
from nurture.temporal.codec import PayloadKeyMissing
from nurture.temporal.connection import payload_codec

router = APIRouter(prefix="/dashboard/codec", tags=["codec"])
CODEC_BYTES = 4 * 1024 * 1024  # a page of a large history's payloads
ALLOWED_HEADERS = "authorization, content-type, x-namespace"


def _ui_origin(settings: Settings) -> str:
    parts = urlsplit(settings.temporal_ui_url)
    return f"{parts.scheme}://{parts.netloc}"


def _cors(request: Request) -> dict[str, str]:
    """CORS headers when the caller is the configured Temporal UI, else none."""
    origin = _ui_origin(request.app.state.settings)
    if request.headers.get("origin") != origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


async def _refusal(request: Request) -> JSONResponse | None:
    """None when the caller may use the codec; the 401 or 403 otherwise."""
    store = request.app.state.store
    if presented_key(request):
        try:
            await check_key(store, request, "decode")
        except HTTPException as err:  # 401 or 403, saying why
            return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        return None
    secret = request.app.state.settings.secret_key
    signed = session.unseal(request.cookies.get(session.COOKIE), secret)
    if signed is not None and "admin" in (await live_scopes(store, signed.key_hash) or []):
        return None
    return JSONResponse(
        {
            "detail": "the codec opens lead data: send an API key with the 'decode' scope "
            "('Authorization: Bearer <key>'; `nurture apikey create --scope decode`), or sign "
            "in to the dashboard with an admin key and let the Temporal UI include "
            "cross-origin credentials"
        },
        401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _code(request: Request, direction: Literal["encode", "decode"]) -> Response:
    cors = _cors(request)
    refused = await _refusal(request)
    if refused is not None:
        refused.headers.update(cors)
        return refused
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError as err:
        detail = f'the body must be {{"payloads": [{{"metadata": {{…}}, "data": "…"}}]}}: {err}'
        return JSONResponse({"detail": detail}, 400, headers=cors)
    codec = payload_codec(request.app.state.settings)
    try:
        coded = await getattr(codec, direction)(list(payloads.payloads))
    except PayloadKeyMissing as err:
        return JSONResponse({"detail": str(err)}, 422, headers=cors)
    answer = json_format.MessageToDict(Payloads(payloads=coded))
    return JSONResponse({"payloads": answer.get("payloads", [])}, headers=cors)


@router.post("/decode", dependencies=[Depends(max_body(CODEC_BYTES))])
async def decode(request: Request) -> Response:
    """Open the payloads (the Temporal UI's codec protocol: `{"payloads": [...]}` in the
    protobuf JSON form). Payloads that are not encrypted come back as they are."""
    return await _code(request, "decode")


@router.post("/encode", dependencies=[Depends(max_body(CODEC_BYTES))])
async def encode(request: Request) -> Response:
    """Seal the payloads with the active key (what the UI sends to a workflow)."""
    return await _code(request, "encode")


@router.options("/decode", include_in_schema=False)
@router.options("/encode", include_in_schema=False)
async def preflight(request: Request) -> Response:
    """The UI's browser asks first whether it may post with credentials."""
    cors = _cors(request)
    if not cors:
        return Response(status_code=403)
    cors |= {
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
    }
    return Response(status_code=204, headers=cors)
