"""Signed unsubscribe tokens: no readable personal data, unforgeable, bound to one lead."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_unsubscribe(lead_id: str, product: str, secret: str) -> str:
    body = _b64(f"{lead_id}:{product}".encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{_b64(mac)}"


def verify_unsubscribe(token: str, secret: str) -> tuple[str, str]:
    """(lead id, product) from a token, or ValueError if it was altered or not ours."""
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:18]
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise ValueError("signature mismatch")
        lead_id, product = _unb64(body).decode().split(":", 1)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError("invalid unsubscribe token: the link is damaged or not ours") from err
    return lead_id, product
