"""The codec endpoint the Temporal UI decodes with: it opens payloads only for a `decode`
(or admin) key or an admin's dashboard session, answers CORS for the UI's origin alone,
and speaks the UI's protocol (protobuf JSON payloads)."""

from __future__ import annotations

import base64
import json
import os

from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from nurture.api.auth import create_api_key
from nurture.api.codec import as_json
from nurture.config import Settings
from nurture.store.engine import Store
from nurture.temporal.connection import payload_codec
from tests.helpers.api import Api, sign_in

UI = "http://localhost:8233"
DECODE = "/dashboard/codec/decode"
LEAD_JSON = b'{"email": "aiko@example.com"}'


async def sealed_body(settings: Settings) -> dict[str, object]:
    settings.payload_keys = {"k1": SecretStr(base64.b64encode(os.urandom(32)).decode())}
    settings.payload_key_id = "k1"
    plain = Payload(metadata={"encoding": b"json/plain"}, data=LEAD_JSON)
    [sealed] = await payload_codec(settings).encode([plain])
    return {"payloads": [as_json(sealed)]}


def opened_data(answer: dict[str, list[dict[str, str]]]) -> bytes:
    return base64.b64decode(answer["payloads"][0]["data"])


async def test_only_an_authorised_caller_opens_payloads(
    api: Api, settings: Settings, store: Store
) -> None:
    body = await sealed_body(settings)
    nobody = await api.http.post(DECODE, json=body, headers={"Origin": UI})
    assert nobody.status_code == 401 and "'decode' scope" in nobody.json()["detail"]
    assert nobody.headers["access-control-allow-origin"] == UI  # the UI can show why
    assert b"aiko" not in nobody.content

    reader = await api.http.post(DECODE, json=body, headers=api.read)
    assert reader.status_code == 403 and "lacks the 'decode' scope" in reader.json()["detail"]

    decoder = {"Authorization": f"Bearer {create_api_key(store, 'ui', ['decode'])}"}
    opened = await api.http.post(DECODE, json=body, headers=decoder | {"Origin": UI})
    assert opened.status_code == 200, opened.text
    assert opened_data(opened.json()) == LEAD_JSON
    assert opened.headers["access-control-allow-credentials"] == "true"

    # Sealing for the UI (a signal sent from it), then opening again.
    plain = as_json(Payload(metadata={"encoding": b"json/plain"}, data=LEAD_JSON))
    sealed = await api.http.post(
        "/dashboard/codec/encode", json={"payloads": [plain]}, headers=decoder
    )
    assert b"aiko" not in base64.b64decode(sealed.json()["payloads"][0]["data"])
    again = await api.http.post(DECODE, json=sealed.json(), headers=decoder)
    assert opened_data(again.json()) == LEAD_JSON


async def test_an_admin_signed_in_to_the_dashboard_decodes_from_the_ui(
    api: Api, settings: Settings, store: Store
) -> None:
    body = await sealed_body(settings)
    signed = await sign_in(api.http, create_api_key(store, "boss", ["admin"]))
    assert signed.status_code == 303
    opened = await api.http.post(DECODE, json=body, headers={"Origin": UI})
    assert opened.status_code == 200 and opened_data(opened.json()) == LEAD_JSON
    assert opened.headers["cache-control"] == "no-store"
    # The UI passing its own sign-in's token: not a Nurture key, so the cookie decides.
    ui_token = {"Origin": UI, "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"}
    assert (await api.http.post(DECODE, json=body, headers=ui_token)).status_code == 200


async def test_preflight_and_cors_are_for_the_ui_origin_alone(api: Api, settings: Settings) -> None:
    asked = {"Origin": UI, "Access-Control-Request-Method": "POST"}
    preflight = await api.http.options(DECODE, headers=asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in preflight.headers["access-control-allow-headers"]
    elsewhere = await api.http.options(DECODE, headers=asked | {"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    answer = await api.http.post(DECODE, json={"payloads": []}, headers=api.admin | {
        "Origin": "https://evil.example"})  # fmt: skip
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


async def test_bad_bodies_and_unknown_keys_say_what_is_wrong(api: Api, settings: Settings) -> None:
    body = await sealed_body(settings)
    malformed = await api.http.post(DECODE, content=b'{"payload": 1}', headers=api.admin)
    assert malformed.status_code == 422
    assert malformed.json()["problems"][0] == {"where": "payloads", "problem": "Field required"}
    not_base64 = {"payloads": [{"data": "not base64!"}]}
    refused = await api.http.post(DECODE, json=not_base64, headers=api.admin)
    assert refused.status_code == 422 and refused.json()["problems"][0]["where"] == (
        "payloads.0.data"
    )
    settings.payload_keys = {"k2": SecretStr(base64.b64encode(os.urandom(32)).decode())}
    settings.payload_key_id = "k2"
    unknown = await api.http.post(DECODE, json=body, headers=api.admin)
    assert unknown.status_code == 422
    assert "key 'k1', which is not in" in unknown.json()["problems"][0]["problem"]
    truncated = Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k2"})
    short = await api.http.post(DECODE, json={"payloads": [as_json(truncated)]}, headers=api.admin)
    assert short.status_code == 422 and "does not open" in short.json()["problems"][0]["problem"]
    plain = {"payloads": [as_json(Payload(metadata={"encoding": b"json/plain"}, data=b"1"))]}
    passed = await api.http.post(DECODE, json=plain, headers=api.admin)
    assert json.loads(opened_data(passed.json())) == 1  # never sealed: as it is


async def test_bodies_are_bounded(api: Api) -> None:
    huge = b"x" * (5 * 1024 * 1024)
    too_big = await api.http.post(DECODE, content=huge, headers=api.admin)
    assert too_big.status_code == 413 and "4194304 byte limit" in too_big.json()["detail"]
