"""The dashboard's session cookie and CSRF tokens: signed, expiring, unforgeable."""

from __future__ import annotations

from nurture.dashboard.session import (
    LOGIN_FORM_SECONDS,
    SESSION_SECONDS,
    login_token,
    login_token_ok,
    new_session,
    seal,
    unseal,
)

NOW = 1_800_000_000.0


def test_a_sealed_session_opens_with_its_secret_only_until_it_expires() -> None:
    session = new_session("ab" * 32, now=NOW)
    cookie = seal(session, "secret")
    assert unseal(cookie, "secret", now=NOW + 10) == session
    assert unseal(cookie, "another secret", now=NOW + 10) is None
    assert unseal(cookie, "secret", now=NOW + SESSION_SECONDS) is None
    payload, signature = cookie.rsplit(".", 1)
    assert unseal(payload[:-2] + "xx." + signature, "secret", now=NOW) is None
    assert unseal("not a cookie", "secret") is None and unseal(None, "secret") is None


def test_csrf_tokens_belong_to_their_session_and_forms_expire() -> None:
    one, two = new_session("k1", now=NOW), new_session("k1", now=NOW)
    assert one.csrf_ok("s", one.csrf("s")) and not one.csrf_ok("s", two.csrf("s"))
    token = login_token("s", now=NOW)
    assert login_token_ok("s", token, now=NOW + 60)
    assert not login_token_ok("other", token, now=NOW + 60)
    assert not login_token_ok("s", token, now=NOW + LOGIN_FORM_SECONDS)
    assert not login_token_ok("s", "1800000000.forged", now=NOW)
