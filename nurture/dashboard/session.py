"""The dashboard's sign-in: an admin API key exchanged for a signed session cookie.

The cookie holds the key's SHA-256 (never the key), an expiry and a random nonce, signed
with the secret key (HMAC-SHA256): no personal data, nothing a reader can forge. Each page
checks that the key is still live and holds `admin`, so revoking the key ends its
sessions within seconds. Forms carry a CSRF token derived from the session's nonce (the
login form: a signed, short-lived one); the cookie is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "nurture_session"
SESSION_SECONDS = 8 * 3600
LOGIN_FORM_SECONDS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, purpose: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{payload}".encode(), hashlib.sha256)
    return _b64(mac.digest())


@dataclass(frozen=True)
class Session:
    key_hash: str
    expires: int
    nonce: str

    def csrf(self, secret: str) -> str:
        """The token this session's forms carry."""
        return _sign(secret, "csrf", self.nonce)

    def csrf_ok(self, secret: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf(secret), token)


def new_session(key_hash: str, now: float | None = None) -> Session:
    now = time.time() if now is None else now
    return Session(key_hash, int(now) + SESSION_SECONDS, secrets.token_urlsafe(16))


def seal(session: Session, secret: str) -> str:
    """The cookie value: payload and signature."""
    payload = _b64(json.dumps([session.key_hash, session.expires, session.nonce]).encode())
    return f"{payload}.{_sign(secret, 'session', payload)}"


def unseal(cookie: str | None, secret: str, now: float | None = None) -> Session | None:
    """The session the cookie carries, or None: absent, forged, malformed or expired."""
    if not cookie or "." not in cookie:
        return None
    payload, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(_sign(secret, "session", payload), signature):
        return None
    try:
        key_hash, expires, nonce = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return Session(str(key_hash), int(expires), str(nonce))


def login_token(secret: str, now: float | None = None) -> str:
    """The login form's CSRF token: when it was issued, signed."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_sign(secret, 'login', issued)}"


def login_token_ok(secret: str, token: str, now: float | None = None) -> bool:
    issued, _, signature = token.partition(".")
    if not issued.isdigit() or not hmac.compare_digest(_sign(secret, "login", issued), signature):
        return False
    age = (time.time() if now is None else now) - int(issued)
    return 0 <= age < LOGIN_FORM_SECONDS
