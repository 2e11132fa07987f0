"""Tracking tokens: sealed, unforgeable, and a click can only lead where the email linked."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from nurture.sending.tracking_tokens import (
    click_token,
    open_token,
    read_click,
    read_open,
    read_visitor,
    visitor_token,
)

SECRET = "a-secret-of-at-least-thirty-two-characters"
LINK = "https://acme.example/guide?utm_source=nurture&email=aiko%40example.jp"


def test_tokens_give_back_the_send_and_the_exact_link() -> None:
    assert read_open(open_token("snd_1", SECRET), SECRET) == "snd_1"
    assert read_click(click_token("snd_1", LINK, SECRET), SECRET) == ("snd_1", LINK)
    assert click_token("snd_1", LINK, SECRET) == click_token("snd_1", LINK, SECRET)


def test_nothing_in_a_token_is_readable() -> None:
    token = click_token("snd_1", LINK, SECRET)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret_part in (b"snd_1", b"aiko", b"acme.example", b"utm_source"):
        assert secret_part not in raw


def test_altered_foreign_or_swapped_tokens_are_refused() -> None:
    token = click_token("snd_1", LINK, SECRET)
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (altered, click_token("snd_1", LINK, "another-secret-of-thirty-two-chars!!")):
        with pytest.raises(ValueError, match="invalid tracking link"):
            read_click(bad, SECRET)
    with pytest.raises(ValueError):  # an open token is no click token, and back
        read_click(open_token("snd_1", SECRET), SECRET)
    with pytest.raises(ValueError):
        read_open(token, SECRET)
    with pytest.raises(ValueError):  # only http(s) links were ever rendered through us
        read_click(click_token("snd_1", "javascript:alert(1)", SECRET), SECRET)


def test_a_visitor_token_names_its_lead_for_an_hour_only() -> None:
    issued = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    token = visitor_token("ld_1", "secret-" * 6, issued)
    assert "ld_1" not in token
    assert read_visitor(token, "secret-" * 6, issued + timedelta(minutes=59)) == "ld_1"
    with pytest.raises(ValueError, match="too old"):
        read_visitor(token, "secret-" * 6, issued + timedelta(minutes=62))
    with pytest.raises(ValueError, match="damaged or not ours"):
        read_visitor(token, "another-" * 6, issued)
