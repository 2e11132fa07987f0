"""SendGrid's Event Webhook events as facts: each documented event, SendGrid's machine-open
verdict, soft bounces, unsubscribe scopes, and nothing from events that are not ours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.analytics.sendgrid_facts import MACHINE_OPEN, fact_of

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
STAMP = int((NOW - timedelta(minutes=3)).timestamp())


def event(name: str, **extra: object) -> dict[str, object]:
    return {
        "event": name,
        "sg_event_id": f"id-{name}",
        "send_id": "snd_1",
        "lead_id": "ld_1",
        "product": "acme",
        "email": "aiko@example.jp",
        "timestamp": STAMP,
        **extra,
    }


def keep_path(url: str) -> str:
    return url.split("?")[0]


def test_every_documented_event_about_a_send_is_one_fact() -> None:
    kinds = {
        name: fact_of(event(name), keep_path, NOW)
        for name in ("delivered", "bounce", "deferred", "open", "click", "spamreport")
    }
    assert {name: f.kind for name, f in kinds.items() if f} == {
        "delivered": "delivered",
        "bounce": "bounced",
        "deferred": "deferred",
        "open": "opened",
        "click": "clicked",
        "spamreport": "spam_reported",
    }
    delivered = kinds["delivered"]
    assert delivered is not None
    assert delivered.fact_id == "sg:id-delivered" and delivered.source == "sendgrid"
    assert delivered.occurred_at == NOW - timedelta(minutes=3)
    assert (delivered.send_id, delivered.lead_id, delivered.product) == ("snd_1", "ld_1", "acme")


def test_sendgrids_machine_open_verdict_is_kept_with_its_reason() -> None:
    person = fact_of(event("open"), keep_path, NOW)
    machine = fact_of(event("open", sg_machine_open=True), keep_path, NOW)
    assert person is not None and person.human is True and person.machine_reason is None
    assert machine is not None and machine.human is False and machine.machine_reason == MACHINE_OPEN


def test_a_blocked_bounce_is_soft_and_a_bounce_hard() -> None:
    hard = fact_of(event("bounce", type="bounce"), keep_path, NOW)
    soft = fact_of(event("bounce", type="blocked"), keep_path, NOW)
    assert hard is not None and hard.bounce == "hard"
    assert soft is not None and soft.bounce == "soft"


def test_a_click_keeps_only_what_the_scenario_keeps_of_its_link() -> None:
    url = "https://acme.example/guide?email=aiko%40example.jp"
    click = fact_of(event("click", url=url), keep_path, NOW)
    assert click is not None and click.link == "https://acme.example/guide" and click.human


def test_unsubscribes_say_their_scope() -> None:
    everything = fact_of(event("unsubscribe"), keep_path, NOW)
    newsletter = fact_of(event("group_unsubscribe", mail_type="newsletter"), keep_path, NOW)
    assert everything is not None and everything.scope == "product"
    assert newsletter is not None and newsletter.scope == "newsletter"


def test_events_not_about_one_of_our_sends_state_no_fact() -> None:
    assert fact_of(event("processed"), keep_path, NOW) is None
    assert fact_of(event("dropped"), keep_path, NOW) is None
    no_send = event("open")
    del no_send["send_id"]
    assert fact_of(no_send, keep_path, NOW) is None  # e.g. a mail not sent by Nurture


def test_a_timestamp_from_the_future_is_taken_as_now() -> None:
    ahead = fact_of(event("open", timestamp=STAMP + 3600), keep_path, NOW)
    assert ahead is not None and ahead.occurred_at == NOW
