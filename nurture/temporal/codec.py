"""Payload encryption: what journeys carry (lead fields, rendered messages) is unreadable to
whoever operates the Temporal cluster.

AES-256-GCM, with the id of the key that sealed each payload in its metadata, so keys
rotate: a new `payload_key_id` seals new payloads while the older keys, still listed in
`payload_keys`, open what histories already hold. A payload that was never encrypted (a
journey started before encryption was turned on) passes through as it is.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadKeyMissing(ValueError):
    """A payload was sealed with a key this process does not have."""


class EncryptionCodec(PayloadCodec):
    """Seals with the active key; opens with whichever key a payload names. With no active
    key (encryption turned off, old keys kept) it seals nothing and still opens."""

    def __init__(self, keys: Mapping[str, bytes], active: str | None) -> None:
        if active is not None and active not in keys:
            raise ValueError(f"the active payload key {active!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active

    @classmethod
    def from_settings(cls, keys: Mapping[str, str], active: str | None) -> EncryptionCodec:
        """From the settings' base64 keys (already checked by `Settings`)."""
        return cls({key_id: base64.b64decode(key) for key_id, key in keys.items()}, active)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._active is None:
            return list(payloads)
        return [self._seal(payload, self._active) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) for payload in payloads]

    def _seal(self, payload: Payload, key_id: str) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyMissing(
                f"a payload was encrypted with key {key_id!r}, which is not in "
                f"NURTURE_PAYLOAD_KEYS (ids: {', '.join(sorted(self._ciphers))}): keep every "
                "key that sealed a payload still in some history"
            )
        try:
            opened = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            raise PayloadKeyMissing(
                f"a payload does not open with key {key_id!r}: the key under that id changed "
                "or the payload was altered"
            ) from None
        return Payload.FromString(opened)
