"""Nurture's counters. Labels are small closed sets (channel, outcome, source), never a lead,
an address or a product's free text, so a scrape is safe to share and cheap to keep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from prometheus_client import Counter
from temporalio.exceptions import ApplicationError

from nurture.mail.providers import DELIVERY_UNCERTAIN
from nurture.observability.tracing import span

EVENTS_ACCEPTED = Counter(
    "nurture_events_accepted",
    "Behaviour events the API stored durably (new ones; repeats of a messageId excluded)",
    ["source"],
)
EVENTS_RELAYED = Counter(
    "nurture_events_relayed",
    "Stored events by what the relay did with them: delivered to a journey, dropped for a "
    "closed one, failed (retried later) or parked (set aside for `nurture deliveries`)",
    ["outcome"],
)
MESSAGES = Counter(
    "nurture_messages",
    "Send attempts that ended, by channel and outcome (sent, suppressed, deferred, "
    "failed, uncertain, retried)",
    ["channel", "outcome"],
)
HANDOFFS = Counter(
    "nurture_handoffs",
    "Hand-offs to sales: recorded by a journey, then posted to the CRM webhook (posted, "
    "refused, retried)",
    ["outcome"],
)

Result = TypeVar("Result", bound="HasStatus")


class HasStatus(Protocol):
    @property
    def status(self) -> str: ...


def error_outcome(err: BaseException) -> str:
    """How a send attempt that raised ended: final (failed, uncertain) or to be retried."""
    if isinstance(err, ApplicationError) and err.non_retryable:
        return "uncertain" if err.type == DELIVERY_UNCERTAIN else "failed"
    return "retried"


def counted_send(channel: str, attempt: Callable[[], Result]) -> Result:
    """Run one send attempt, count how it ended, and trace it."""
    with span(f"send {channel}", channel=channel) as current:
        try:
            result = attempt()
        except BaseException as err:
            outcome = error_outcome(err)
            MESSAGES.labels(channel, outcome).inc()
            current.set_attribute("nurture.outcome", outcome)
            raise
        MESSAGES.labels(channel, result.status).inc()
        current.set_attribute("nurture.outcome", result.status)
    return result
