"""Pushing through the real line-bot-sdk to a local LINE API that checks what it gets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nurture.channels.line.push import LineMessagingApi, LineOutbox, Push
from nurture.config import Settings
from nurture.mail.providers import ProviderRejected, ProviderUnavailable
from tests.helpers.line import UUID, LineApi, channel

HELLO = [{"type": "text", "text": "こんにちは"}]


@pytest.fixture
def line() -> Iterator[LineApi]:
    api = LineApi()
    yield api
    api.close()


def messaging(line: LineApi, settings: Settings) -> LineMessagingApi:
    settings.line_api_base = line.url
    settings.line_channels = {"acme": channel()}
    return LineMessagingApi(settings)


def test_a_push_carries_the_token_a_retry_key_and_the_messages(
    line: LineApi, settings: Settings
) -> None:
    request_id = messaging(line, settings).push(Push("snd_1", "acme", "U123", HELLO))
    [pushed] = line.pushes
    assert (pushed.to, pushed.messages) == ("U123", HELLO)
    assert UUID.match(pushed.retry_key) and pushed.retry_key == Push("snd_1", "", "", []).retry_key
    assert request_id == "req-" + pushed.retry_key[:8]


def test_the_same_send_pushed_again_reaches_the_lead_once(
    line: LineApi, settings: Settings
) -> None:
    api = messaging(line, settings)
    api.push(Push("snd_1", "acme", "U123", HELLO))
    again = api.push(Push("snd_1", "acme", "U123", HELLO))  # a retried activity
    assert len(line.pushes) == 1 and again.startswith("accepted-")


def test_a_rate_limit_is_retried_after_lines_wait_and_a_refusal_is_final(
    line: LineApi, settings: Settings
) -> None:
    api = messaging(line, settings)
    line.fail_next = [429]
    with pytest.raises(ProviderUnavailable) as limited:
        api.push(Push("snd_1", "acme", "U123", HELLO))
    assert limited.value.retry_after == timedelta(seconds=2) and "429" in limited.value.detail
    line.fail_next = [503]
    with pytest.raises(ProviderUnavailable, match="LINE answered 503"):
        api.push(Push("snd_1", "acme", "U123", HELLO))
    with pytest.raises(ProviderRejected) as refused:
        api.push(Push("snd_2", "acme", "U123", [{"type": "text", "text": "x" * 5001}]))
    assert "LINE refused the push (400)" in refused.value.detail
    assert "text: Length must be between 1 and 5000" in refused.value.detail
    assert [p.retry_key for p in line.pushes] == []
    api.push(Push("snd_1", "acme", "U123", HELLO))  # the outage is over
    assert len(line.pushes) == 1


def test_no_answer_is_retryable_and_a_product_without_a_channel_is_refused(
    settings: Settings,
) -> None:
    settings.line_api_base = "http://127.0.0.1:9"  # nothing listens
    settings.line_channels = {"acme": channel()}
    with pytest.raises(ProviderUnavailable, match="LINE did not answer"):
        LineMessagingApi(settings).push(Push("snd_1", "acme", "U123", HELLO))
    with pytest.raises(ProviderRejected, match="no LINE channel for other"):
        LineMessagingApi(settings).push(Push("snd_1", "other", "U123", HELLO))


def test_the_outbox_writes_the_push_as_line_would_get_it(tmp_path: Path) -> None:
    outbox = LineOutbox(tmp_path)
    outbox.push(Push("snd_1", "acme", "U123", HELLO))
    written = outbox.path_for("acme", "snd_1").read_text(encoding="utf-8")
    assert '"to": "U123"' in written and "こんにちは" in written
    assert outbox.path_for("acme", "snd_1").parent.parent.name == ".line"


def test_a_reply_answers_the_users_event(line: LineApi, settings: Settings) -> None:
    messaging(line, settings).reply("acme", "reply-token-1", "連携しました")
    [reply] = line.replies
    assert reply["replyToken"] == "reply-token-1"
    assert reply["messages"] == [{"type": "text", "text": "連携しました"}]
