"""The send activities turn a provider's own errors into the Temporal errors journey
histories record: the type strings, retry flags and waits are part of the contract."""

from __future__ import annotations

from datetime import timedelta

from activities.email import temporal_error
from nurture.mail.providers import (
    DeliveryUncertain,
    ProviderRejected,
    ProviderUnavailable,
    retry_later,
)


def test_unavailable_is_retried_after_the_wait_the_provider_names() -> None:
    err = temporal_error(ProviderUnavailable("429 too many", retry_after=timedelta(seconds=90)))
    assert (err.type, err.non_retryable, err.next_retry_delay) == (
        "EmailProviderUnavailable",
        False,
        timedelta(seconds=90),
    )
    assert err.message == "429 too many"
    later = temporal_error(retry_later("connection refused"))  # what test fakes raise
    assert (later.type, later.non_retryable, later.next_retry_delay) == (
        "EmailProviderUnavailable",
        False,
        None,
    )


def test_rejected_and_uncertain_are_final() -> None:
    rejected = temporal_error(ProviderRejected("550 no such user"))
    assert (rejected.type, rejected.non_retryable) == ("EmailRejected", True)
    uncertain = temporal_error(DeliveryUncertain("answer lost"))
    assert (uncertain.type, uncertain.non_retryable) == ("EmailDeliveryUncertain", True)
    assert uncertain.next_retry_delay is None


def test_a_long_detail_is_shortened_for_the_history() -> None:
    err = temporal_error(ProviderRejected("x" * 2000))
    assert len(err.message) == 500 and err.message.endswith("…")
