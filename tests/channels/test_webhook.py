"""A webhook step's POST: signed so a receiver can check it, and how each answer counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from nurture.channels.webhook import StepPost, post, sign, verify_signature
from nurture.mail.providers import ProviderRejected, ProviderUnavailable
from tests.helpers.crm import CrmWebhook

NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)
BODY = b'{"send_id": "snd_1"}'


@pytest.fixture
def receiver() -> Iterator[CrmWebhook]:
    hook = CrmWebhook(status=202)
    yield hook
    hook.close()


def test_a_signature_verifies_only_for_its_body_secret_and_moment() -> None:
    header = sign(BODY, "s3cret", NOW)
    verify_signature(BODY, header, "s3cret", NOW + timedelta(minutes=4))
    for body, secret, at, said in [
        (BODY + b" ", "s3cret", NOW, "does not verify"),
        (BODY, "guess", NOW, "does not verify"),
        (BODY, "s3cret", NOW + timedelta(minutes=6), "outside the replay window"),
        (BODY, "s3cret", NOW - timedelta(minutes=6), "outside the replay window"),
    ]:
        with pytest.raises(ValueError, match=said):
            verify_signature(body, header, secret, at)
    with pytest.raises(ValueError, match="must be 't=<unix seconds>,v1=<hex>'"):
        verify_signature(BODY, "sha256=abc", "s3cret", NOW)


def test_a_post_is_signed_and_carries_the_sends_idempotency_key(receiver: CrmWebhook) -> None:
    assert post(StepPost(receiver.url, "snd_1", {"a": "愛"}), "s3cret", datetime.now(UTC)) == "202"
    [(body, headers)] = receiver.calls
    assert headers["Idempotency-Key"] == "snd_1"
    verify_signature(body, headers["X-Nurture-Signature"], "s3cret", datetime.now(UTC))
    assert body.decode() == '{"a": "愛"}'


@pytest.mark.parametrize(
    ("status", "error"),
    [(302, ProviderRejected), (400, ProviderRejected), (404, ProviderRejected),
     (408, ProviderUnavailable), (429, ProviderUnavailable), (503, ProviderUnavailable)],
)  # fmt: skip
def test_a_4xx_is_final_and_the_rest_is_retried(
    receiver: CrmWebhook, status: int, error: type[Exception]
) -> None:
    receiver.status = status
    with pytest.raises(error, match=str(status)):
        post(StepPost(receiver.url, "snd_1", {}), "s3cret", datetime.now(UTC))


def test_no_answer_is_retried() -> None:
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        post(StepPost("http://127.0.0.1:9/hook", "snd_1", {}), "s3cret", datetime.now(UTC))


def test_a_redirect_is_refused_not_followed_as_a_get(receiver: CrmWebhook) -> None:
    receiver.status = 301
    with pytest.raises(ProviderRejected, match=r"answered 301 .*give the final URL"):
        post(StepPost(receiver.url, "snd_1", {}), "s3cret", datetime.now(UTC))
    assert len(receiver.calls) == 1  # one POST, no GET after it
