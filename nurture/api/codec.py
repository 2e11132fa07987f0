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

import base64
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, StringConstraints, ValidationError
from temporalio.api.common.v1 import Payload

from nurture.api.auth import PREFIX, check_key, presented_key
from nurture.api.errors import invalid_input
from nurture.api.limits import max_body
from nurture.config import Settings
from nurture.dashboard.pages import signed_in
from nurture.temporal.codec import PayloadKeyMissing
from nurture.temporal.connection import payload_codec

router = APIRouter(prefix="/dashboard/codec", tags=["codec"])
CODEC_BYTES = 4 * 1024 * 1024  # a page of a large history's payloads
ALLOWED_HEADERS = "authorization, content-type, x-namespace"
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# The Temporal UI's codec protocol, for the OpenAPI document: payloads in protobuf JSON.
PAYLOADS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payloads"],
                    "properties": {
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": {
                                            "type": "string",
                                            "pattern": BASE64,
                                        },
                                    },
                                    "data": {"type": "string", "pattern": BASE64},
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}


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
    presented = presented_key(request) or ""
    # The UI may send its own sign-in's bearer token ("pass access token"): not one of ours,
    # so the dashboard's cookie decides.
    if presented.startswith(PREFIX):
        try:
            await check_key(store, request, "decode")
        except HTTPException as err:  # 401 or 403, saying why
            return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        return None
    if await signed_in(request) is not None:
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
        body = CodecBody.model_validate_json(await request.body())
    except ValidationError as err:
        return JSONResponse(invalid_input(err.errors()), 422, headers=cors)
    codec = payload_codec(request.app.state.settings)
    try:
        coded = await getattr(codec, direction)([p.as_proto() for p in body.payloads])
    except PayloadKeyMissing as err:
        problem = {"loc": ("payloads",), "msg": str(err)}
        return JSONResponse(invalid_input([problem]), 422, headers=cors)
    opened = JSONResponse({"payloads": [as_json(p) for p in coded]}, headers=cors)
    opened.headers["Cache-Control"] = "no-store"  # lead data: never kept by a cache
    return opened


Base64 = Annotated[str, StringConstraints(pattern=BASE64)]


class CodecPayload(BaseModel):
    """One payload as the UI sends it: metadata values and data in base64."""

    metadata: dict[str, Base64] = {}
    data: Base64 = ""

    def as_proto(self) -> Payload:
        return Payload(
            metadata={key: base64.b64decode(value) for key, value in self.metadata.items()},
            data=base64.b64decode(self.data),
        )


class CodecBody(BaseModel):
    payloads: list[CodecPayload]


def as_json(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


@router.post("/decode", dependencies=[Depends(max_body(CODEC_BYTES))], openapi_extra=PAYLOADS_BODY)
async def decode(request: Request) -> Response:
    """Open the payloads (the Temporal UI's codec protocol: `{"payloads": [...]}` in the
    protobuf JSON form). Payloads that are not encrypted come back as they are."""
    return await _code(request, "decode")


@router.post("/encode", dependencies=[Depends(max_body(CODEC_BYTES))], openapi_extra=PAYLOADS_BODY)
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
