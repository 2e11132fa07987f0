"""Payload encryption: sealed with the active key, opened by the key a payload names, so
keys rotate under running journeys; what was never sealed passes through."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.store.engine import Store
from nurture.temporal.codec import ENCODING, EncryptionCodec, PayloadKeyMissing
from nurture.temporal.connection import data_converter, payload_codec
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, behave, eventually, make_lead


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"email": "aiko@example.com"}')


async def test_a_payload_round_trips_and_its_data_is_unreadable() -> None:
    codec = EncryptionCodec.from_settings({"k1": new_key()}, "k1")
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert b"aiko" not in sealed.data and b"json/plain" not in sealed.data
    assert await codec.decode([sealed]) == [PLAIN]
    assert (await codec.encode([PLAIN]))[0].data != sealed.data  # a fresh nonce each time


async def test_keys_rotate_and_unsealed_payloads_pass_through() -> None:
    old, new = new_key(), new_key()
    [sealed_old] = await EncryptionCodec.from_settings({"2026-11": old}, "2026-11").encode([PLAIN])
    rotated = EncryptionCodec.from_settings({"2026-11": old, "2026-12": new}, "2026-12")
    [sealed_new] = await rotated.encode([PLAIN])
    assert sealed_new.metadata["encryption-key-id"] == b"2026-12"
    assert await rotated.decode([sealed_old, sealed_new, PLAIN]) == [PLAIN, PLAIN, PLAIN]

    turned_off = EncryptionCodec.from_settings({"2026-12": new}, None)
    assert await turned_off.encode([PLAIN]) == [PLAIN]  # seals nothing, still opens
    assert await turned_off.decode([sealed_new]) == [PLAIN]
    with pytest.raises(PayloadKeyMissing, match=r"key '2026-11', which is not in"):
        await turned_off.decode([sealed_old])


async def test_a_changed_key_under_the_same_id_is_refused_clearly() -> None:
    [sealed] = await EncryptionCodec.from_settings({"k": new_key()}, "k").encode([PLAIN])
    other = EncryptionCodec.from_settings({"k": new_key()}, "k")
    with pytest.raises(PayloadKeyMissing, match="does not open with key 'k'"):
        await other.decode([sealed])


def test_settings_refuse_bad_keys_with_the_fix() -> None:
    with pytest.raises(ValueError, match="base64 of 32 random bytes"):
        Settings(payload_keys={"k": "c2hvcnQ="})
    with pytest.raises(ValueError, match="'k2' is not among NURTURE_PAYLOAD_KEYS"):
        Settings(payload_keys={"k": new_key()}, payload_key_id="k2")


async def test_journeys_run_encrypted_and_survive_a_key_rotation(
    env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    """Every payload in the history is sealed; a worker with a new active key (the old one
    kept) carries on the running journey."""
    keys = {"a": SecretStr(new_key())}
    # No sticky cache: the second worker takes the journey's next task at once (the test
    # server would hold it on the stopped worker's sticky queue).
    first = settings.model_copy(
        update={"payload_keys": keys, "payload_key_id": "a", "worker_max_cached_workflows": 0}
    )
    client = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(first),
    )
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, first, store):
        outcome = await start_journey(client, first, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
        await eventually(handle, lambda s: s.emails_sent == 1)

    payloads = await history_payloads(env.client, outcome.journey_id)
    assert payloads and all(p.metadata["encoding"] == ENCODING for p in payloads)
    opened = await payload_codec(first).decode(payloads)
    assert any(b"acme" in p.data for p in opened)  # the same content, readable with the key

    keys |= {"b": SecretStr(new_key())}
    second = settings.model_copy(update={"payload_keys": keys, "payload_key_id": "b"})
    client = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(second),
    )
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    async with build_worker(client, second, store):
        await behave(env, handle, "pricing_page")
        state = await eventually(handle, lambda s: s.score.behavior > 0)
    assert state.score.behavior > 0
    key_ids = {p.metadata["encryption-key-id"] for p in await history_payloads(
        env.client, outcome.journey_id)}  # fmt: skip
    assert key_ids == {b"a", b"b"}


async def history_payloads(client: Client, workflow_id: str) -> list[Payload]:
    """Every payload the history holds, as the cluster stores it."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found: list[Payload] = []

    def collect(message: object) -> None:
        for descriptor, value in message.ListFields():  # type: ignore[attr-defined]
            if descriptor.message_type is None:
                continue
            if hasattr(value, "keys"):
                continue  # maps: search attributes and headers, which no codec seals
            items = [value] if hasattr(value, "ListFields") else value
            for item in items:
                if isinstance(item, Payload):
                    found.append(item)
                elif hasattr(item, "ListFields"):
                    collect(item)

    for event in history.events:
        collect(event)
    return found
