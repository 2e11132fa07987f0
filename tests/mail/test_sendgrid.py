"""The SendGrid provider: the real `sendgrid` client against a local v3 mail-send endpoint that
checks each request the way SendGrid documents it, through the real send_email activity."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from nurture.config import Settings
from nurture.mail.providers import DELIVERY_UNCERTAIN, PROVIDER_REJECTED, PROVIDER_UNAVAILABLE
from nurture.mail.sendgrid import SendGridProvider
from nurture.sending.status import advance_send_status
from nurture.store.engine import Store
from tests.helpers.email import japanese_input, left_uncertain, new_lead, run, send_rows
from tests.helpers.scenarios import pinned
from tests.helpers.sendgrid import API_KEY, FakeSendGrid, Reply, problems_with


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    fake = FakeSendGrid()
    yield fake
    fake.close()


def activities(
    settings: Settings, store: Store, sendgrid: FakeSendGrid, **options: Any
) -> EmailActivities:
    pinned(store)
    provider = SendGridProvider(API_KEY, host=sendgrid.url, **options)
    return EmailActivities(store, settings, provider)


def test_payload_is_what_sendgrid_documents_and_the_message_id_is_recorded(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    lead_id = new_lead(store)
    emails = activities(settings, store, sendgrid, unsubscribe_groups={"acme/step": 4242})
    result = run(emails, japanese_input(lead_id))

    assert result.status == "sent" and result.provider_message_id == "sg-1"
    [(headers, payload)] = sendgrid.requests
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert problems_with(payload) == []
    assert payload["from"] == {"email": "hello@acme.example", "name": "アクメ分析 営業部"}
    assert payload["reply_to"] == {"email": "team@acme.example"}
    assert payload["personalizations"] == [
        {"to": [{"email": "aiko@example.com", "name": "愛子 佐藤"}]}
    ]
    assert payload["subject"] == "佐藤様、ようこそ"
    text, html = (c["value"] for c in payload["content"])
    assert "1 Example Street, Springfield" in text and "<" in html and "<" not in text
    assert payload["custom_args"] == {
        "journey_id": f"journey:acme:{lead_id}",
        "lead_id": lead_id,
        "product": "acme",
        "send_id": result.send_id,
        "mail_type": "step",
        "send_key": "cold#1/welcome",
        "variant": "0",
    }
    assert sorted(payload["categories"]) == ["acme", "cold/welcome", "step"]
    assert payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert payload["headers"]["List-Unsubscribe"].startswith(
        "<http://localhost:8000/v1/unsubscribe/"
    )
    assert payload["headers"]["X-Nurture-Send-Id"] == result.send_id
    assert payload["asm"] == {"group_id": 4242}
    assert "mail_settings" not in payload  # not sandboxed: SendGrid delivers

    [row] = send_rows(store)
    assert (row.status, row.provider, row.provider_message_id) == ("sent", "sendgrid", "sg-1")
    assert row.subject == "佐藤様、ようこそ"
    assert run(emails, japanese_input(lead_id)).provider_message_id == "sg-1"
    assert len(sendgrid.requests) == 1  # a repeat finds it sent


def test_unsubscribe_group_is_per_product_and_mail_type(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    emails = activities(settings, store, sendgrid, unsubscribe_groups={"acme/newsletter": 7})
    run(emails, japanese_input(new_lead(store)))
    assert "asm" not in sendgrid.payloads[0]  # a step: no group configured for it


def test_sandbox_mode_is_requested(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    emails = activities(settings, store, sendgrid, sandbox=True)
    assert run(emails, japanese_input(new_lead(store))).status == "sent"
    assert sendgrid.payloads[0]["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_sendgrid_tracks_unless_nurture_does(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    """With Nurture's own links in the email, SendGrid's tracking would count each read twice."""
    emails = activities(settings, store, sendgrid, tracks=False)
    assert run(emails, japanese_input(new_lead(store))).status == "sent"
    assert sendgrid.payloads[0]["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
    }
    assert problems_with(sendgrid.payloads[0]) == []


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}, "reset"),
        ({"Retry-After": "120"}, 120),
    ],
)
def test_rate_limited_send_is_retried_after_the_named_wait(
    settings: Settings,
    store: Store,
    sendgrid: FakeSendGrid,
    headers: dict[str, str],
    at_least: str | int,
) -> None:
    reset = int(time.time()) + 90
    if at_least == "reset":
        headers = {**headers, "X-RateLimit-Reset": str(reset)}
    too_many = {"errors": [{"field": None, "message": "too many requests"}]}
    sendgrid.replies.append(Reply(429, headers=headers, body=too_many))
    emails = activities(settings, store, sendgrid)
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError) as limited:
        run(emails, japanese_input(lead_id))
    err = limited.value
    assert err.type == PROVIDER_UNAVAILABLE and not err.non_retryable
    assert "429" in str(err) and "too many requests" in str(err)
    assert err.next_retry_delay is not None
    wanted = reset - time.time() if at_least == "reset" else float(at_least)
    assert err.next_retry_delay.total_seconds() >= wanted
    assert [(r.status, r.claimed_at) for r in send_rows(store)] == [("queued", None)]

    assert run(emails, japanese_input(lead_id)).status == "sent"  # the retry
    assert len(sendgrid.requests) == 2 and send_rows(store)[0].provider_message_id == "sg-2"


def test_server_error_is_retried_on_the_activity_backoff(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    sendgrid.replies.append(Reply(503, body={"errors": [{"message": "service unavailable"}]}))
    with pytest.raises(ApplicationError) as unavailable:
        run(activities(settings, store, sendgrid), japanese_input(new_lead(store)))
    assert not unavailable.value.non_retryable and unavailable.value.next_retry_delay is None
    assert send_rows(store)[0].status == "queued"


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_may_hide_an_accepted_send_and_is_not_retried(
    settings: Settings, store: Store, sendgrid: FakeSendGrid, status: int
) -> None:
    sendgrid.replies.append(Reply(status, body={"errors": [{"message": "upstream timed out"}]}))
    left_uncertain(activities(settings, store, sendgrid), store, japanese_input(new_lead(store)))
    assert len(sendgrid.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_refused_send_fails_with_sendgrids_message_and_is_not_retried(
    settings: Settings, store: Store, sendgrid: FakeSendGrid, status: int
) -> None:
    message = "The from address does not match a verified Sender Identity."
    sendgrid.replies.append(Reply(status, body={"errors": [{"field": "from", "message": message}]}))
    emails = activities(settings, store, sendgrid)
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError) as refused:
        run(emails, japanese_input(lead_id))
    assert refused.value.type == PROVIDER_REJECTED and refused.value.non_retryable
    [row] = send_rows(store)
    assert row.status == "failed" and row.provider_message_id is None
    assert row.detail == f"SendGrid refused the message ({status}): from: {message}"

    with pytest.raises(ApplicationError) as again:  # a later attempt does not call SendGrid
        run(emails, japanese_input(lead_id))
    assert again.value.non_retryable and message in str(again.value)
    assert len(sendgrid.requests) == 1


def test_recipient_address_in_an_error_stays_out_of_the_detail(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    said = "Does not contain a valid address: Aiko@Example.com"
    sendgrid.replies.append(Reply(400, body={"errors": [{"message": said}]}))
    with pytest.raises(ApplicationError) as refused:
        run(activities(settings, store, sendgrid), japanese_input(new_lead(store)))
    assert "example.com" not in str(refused.value).lower()
    detail = send_rows(store)[0].detail
    assert detail is not None
    assert detail.endswith("Does not contain a valid address: <recipient>")


@pytest.mark.parametrize("lost", ["reset", "timeout"])
def test_lost_answer_after_sendgrid_received_the_message_is_not_retried(
    settings: Settings, store: Store, sendgrid: FakeSendGrid, lost: str
) -> None:
    sendgrid.replies.append(Reply(reset=lost == "reset", hang=lost == "timeout"))
    emails = activities(settings, store, sendgrid, timeout=0.5)
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError) as unsure:
        run(emails, japanese_input(lead_id))
    assert unsure.value.type == DELIVERY_UNCERTAIN and unsure.value.non_retryable
    [row] = send_rows(store)
    assert row.status == "uncertain" and "not retried" in (row.detail or "")
    assert len(sendgrid.requests) == 1  # SendGrid had the whole request

    with pytest.raises(ApplicationError) as again:  # the next attempt does not send again
        run(emails, japanese_input(lead_id))
    assert again.value.type == DELIVERY_UNCERTAIN and again.value.non_retryable
    assert len(sendgrid.requests) == 1

    # SendGrid's Event Webhook settles it: the message did go out.
    assert advance_send_status(store, row.id, "delivered")
    assert send_rows(store)[0].status == "delivered"


def test_sendgrid_not_reached_is_retried(settings: Settings, store: Store) -> None:
    with socket.socket() as placeholder:  # a port nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    pinned(store)
    provider = SendGridProvider(API_KEY, host=f"http://127.0.0.1:{port}")
    with pytest.raises(ApplicationError) as unreached:
        run(EmailActivities(store, settings, provider), japanese_input(new_lead(store)))
    assert unreached.value.type == PROVIDER_UNAVAILABLE and not unreached.value.non_retryable
    assert "nothing was sent" in str(unreached.value)
    assert send_rows(store)[0].status == "queued"


def test_uncertain_send_takes_its_slot_of_the_weekly_cap(
    settings: Settings, store: Store, sendgrid: FakeSendGrid
) -> None:
    settings.frequency_cap_per_week = 1
    sendgrid.replies.append(Reply(reset=True))
    emails = activities(settings, store, sendgrid)
    lead_id = new_lead(store)
    with pytest.raises(ApplicationError):
        run(emails, japanese_input(lead_id))
    nxt = run(emails, japanese_input(lead_id, send_key="cold#2/case-study"))
    assert nxt.status == "deferred" and len(sendgrid.requests) == 1
