"""Posting to Slack with the real slack_sdk against a local Slack API: what each answer
means, and that a button's token opens only for us."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from nurture.handoff.slack import (
    action_token,
    handoff_blocks,
    post_message,
    read_action,
    slack_client,
)
from nurture.mail.providers import DeliveryUncertain, ProviderRejected, ProviderUnavailable
from nurture.mail.sales import SalesNotice
from nurture.scenario.loader import load_scenario
from tests.helpers.paths import SCENARIOS
from tests.helpers.slack import TOKEN, SlackApi

BRAND = load_scenario(SCENARIOS, "acme").brand
PAYLOAD = {
    "lead": {"id": "ld_1", "name": "<Aiko> & Co", "company": "Example KK"},
    "product": "acme",
    "handoff_no": 1,
    "score": {"total": 72, "fit": 15, "behavior": 57, "rules": []},
    "journey_url": "http://localhost:8233/namespaces/default/workflows/journey:acme:ld_1",
}


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    api = SlackApi()
    yield api
    api.close()


def client(slack: SlackApi, token: str = TOKEN) -> WebClient:
    return slack_client(token, slack.api)


def test_a_handoff_is_escaped_linked_and_has_two_buttons(slack: SlackApi) -> None:
    text, blocks = handoff_blocks(SalesNotice("handoff", "s@acme.example"), PAYLOAD, BRAND, "tok")
    ts = post_message(client(slack), "C0123ABCD", text, blocks)
    [posted] = slack.messages
    assert posted.ts == ts and posted.text == text
    sections = " ".join(b["text"]["text"] for b in posted.blocks if b["type"] == "section")
    assert "&lt;Aiko&gt; &amp; Co" in sections and "<Aiko>" not in sections
    assert f"<{PAYLOAD['journey_url']}>" in sections
    [actions] = [b for b in posted.blocks if b["type"] == "actions"]
    assert [e["value"] for e in actions["elements"]] == ["tok", "tok"]


def test_slacks_answers_mean_retry_or_stop(slack: SlackApi) -> None:
    text, blocks = handoff_blocks(SalesNotice("handoff", ""), PAYLOAD, BRAND, None)
    slack.fail_next = [429]
    with pytest.raises(ProviderUnavailable, match="Slack answered 429"):
        post_message(client(slack), "C0123ABCD", text, blocks)
    with pytest.raises(ProviderRejected, match="invalid_auth"):
        post_message(client(slack, "xoxb-wrong"), "C0123ABCD", text, blocks)
    with pytest.raises(ProviderRejected, match="channel_not_found"):
        post_message(client(slack), "", text, blocks)
    nowhere = slack_client(TOKEN, "http://127.0.0.1:9/api/")
    with pytest.raises(ProviderUnavailable, match="Slack cannot be reached"):
        post_message(nowhere, "C0123ABCD", text, blocks)  # refused: nothing was sent
    slack.fail_next = [503]
    with pytest.raises(DeliveryUncertain, match="it may have the message"):
        post_message(client(slack), "C0123ABCD", text, blocks)
    assert slack.messages == []


def test_a_button_token_opens_only_with_our_secret() -> None:
    token = action_token("journey:acme:ld_1", 2, "secret")
    assert "ld_1" not in token
    clicked = read_action(token, "secret")
    assert (clicked.journey_id, clicked.handoff_no) == ("journey:acme:ld_1", 2)
    with pytest.raises(ValueError, match="damaged or not ours"):
        read_action(token, "another secret")
