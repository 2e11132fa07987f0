"""A signed SendGrid Event Webhook request: a real ECDSA key, events as SendGrid sends them."""

from __future__ import annotations

import base64
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def signed(
    events: list[dict], *, at: int | None = None, key: ec.EllipticCurvePrivateKey = KEY
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    stamp = str(at or int(time.time()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def sg(event: str, sg_id: str, lead_id: str, **extra: object) -> dict:
    return {
        "event": event,
        "sg_event_id": sg_id,
        "lead_id": lead_id,
        "product": "acme",
        "email": "aiko@example.jp",
        "timestamp": int(time.time()) - 5,
        **extra,
    }
