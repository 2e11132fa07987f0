"""The pieces of sales' side of a hand-off, one by one: business days, the scenario keys,
the interesting moments, the sales email and its activity, and SendGrid events about it."""

from __future__ import annotations

import email
import shutil
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.handoff import HandoffActivities, HandoffInput
from activities.sales_mail import SalesMailActivities, SalesMailInput
from nurture.config import Settings
from nurture.handoff.sla import add_business_days, next_sla_notice
from nurture.leads.erasure import erase_lead
from nurture.leads.events import BehaviorEvent
from nurture.mail.outbox import OutboxProvider
from nurture.mail.providers import retry_later
from nurture.scenario.loader import ScenarioError, load_scenario, load_scenario_dir
from nurture.scenario.model import SendWindow
from nurture.scoring.moments import interesting_moments
from nurture.scoring.score import RuleScore, ScoreBreakdown
from nurture.sending import gate as send_gate
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead, Send
from tests.helpers.email import body
from tests.helpers.paths import REPO, SCENARIOS

TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = SendWindow(timezone="Asia/Tokyo", holidays=[date(2026, 11, 23)])  # Mon, a holiday


def tokyo(day: int, hour: int = 12) -> datetime:
    """Day `day` counted from 1 November 2026 (31 is 1 December), in Tokyo."""
    return datetime(2026, 11, 1, hour, tzinfo=TOKYO) + timedelta(days=day - 1)


# ---- business days ---------------------------------------------------------------------


def test_business_days_skip_the_weekend_and_holidays() -> None:
    assert add_business_days(tokyo(27), 2, WINDOW) == tokyo(31)  # Fri → Tue 12:00
    assert add_business_days(tokyo(20), 1, WINDOW) == tokyo(24)  # Fri → (Mon holiday) Tue
    assert add_business_days(tokyo(25), 2, WINDOW) == tokyo(27)  # Wed → Fri


def test_a_handoff_outside_business_days_starts_the_clock_on_the_next_one() -> None:
    saturday = tokyo(28, 15)
    assert add_business_days(saturday, 1, WINDOW) == tokyo(31, 0)


def test_without_a_send_window_business_days_are_monday_to_friday_in_utc() -> None:
    friday = datetime(2026, 11, 27, 22, tzinfo=UTC)
    assert add_business_days(friday, 1, None) == datetime(2026, 11, 30, 22, tzinfo=UTC)


def test_the_window_weekdays_decide_what_a_business_day_is() -> None:
    six_days = SendWindow(
        timezone="Asia/Tokyo", weekdays=["mon", "tue", "wed", "thu", "fri", "sat"]
    )
    assert add_business_days(tokyo(27), 2, six_days) == tokyo(30)  # Fri → Sat, Mon


def sla_scenario(tmp_path: Path, sla: str) -> Path:
    folder = tmp_path / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    yaml = folder / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace("  recycle:\n", sla + "  recycle:\n", 1))
    return folder


def test_the_reminder_comes_after_n_business_days_and_the_escalation_after_2n(
    tmp_path: Path,
) -> None:
    folder = sla_scenario(
        tmp_path,
        "  owner: sales@acme.example\n  sla: {business_days: 2, escalate_to: b@a.example}\n",
    )
    scenario = load_scenario_dir(folder)
    handed = tokyo(27)
    assert next_sla_notice(scenario, handed, 0) == (tokyo(31), "remind")
    assert next_sla_notice(scenario, handed, 1) == (tokyo(33), "escalate")
    assert next_sla_notice(scenario, handed, 2) is None
    sla = scenario.handoff.sla
    assert sla is not None  # the scenario above sets one
    no_escalation = scenario.handoff.model_copy(
        update={"sla": sla.model_copy(update={"escalate_to": None})}
    )
    alone = scenario.model_copy(update={"handoff": no_escalation})
    assert next_sla_notice(alone, handed, 1) is None


# ---- scenario keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sla", "error"),
    [
        ("  owner: sales team\n", "handoff.owner: 'sales team' is not an email address"),
        ("  owner: s@a.example\n  sla: {business_days: 0}\n", "handoff.sla.business_days"),
        (
            "  owner: s@a.example\n  sla: {business_days: 2, escalate_to: boss}\n",
            "handoff.sla.escalate_to: 'boss' is not an email address",
        ),
        ("  sla: {business_days: 2}\n", "'sla' reminds the hand-off's owner: set 'owner'"),
        ("  owner: s@a.example\n  sla: {days: 2}\n", "unknown key 'days'"),
        ("  owner: 営業@example.jp\n", "ASCII only"),
    ],
)
def test_owner_and_sla_are_validated_with_clear_errors(
    tmp_path: Path, sla: str, error: str
) -> None:
    folder = sla_scenario(tmp_path, sla)
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    assert any(error in str(p) for p in err.value.problems), err.value.problems
    assert all(":4" in str(p) for p in err.value.problems)  # file:line


def test_the_shipped_scenarios_name_an_owner_and_an_sla() -> None:
    repo = REPO / "scenarios"
    for product in ("cloudbook", "smartfactory"):
        handoff = load_scenario(repo, product).handoff
        assert handoff.owner and handoff.sla and handoff.sla.escalate_to


# ---- interesting moments -----------------------------------------------------------------

NOW = datetime(2026, 11, 27, 3, tzinfo=UTC)


def event(n: int, type: str, ago: timedelta, **fields: object) -> BehaviorEvent:
    return BehaviorEvent(event_id=f"e{n}", type=type, occurred_at=NOW - ago, **fields)


def test_moments_say_what_how_often_and_how_recently_without_query_strings() -> None:
    events = [
        event(1, "pricing_page", timedelta(hours=2), url="https://a.example/pricing?email=a@b.c"),
        event(2, "pricing_page", timedelta(days=2), url="https://a.example/pricing"),
        event(3, "pricing_page", timedelta(days=12), url="https://a.example/pricing/enterprise"),
        event(4, "document_download", timedelta(days=1), properties={"document": "roi-guide"}),
        event(5, "email_open", timedelta(days=3), properties={"machine_open": True}),
        event(6, "page_view", timedelta(days=45)),  # too old to be a moment
        event(7, "email_bounce", timedelta(days=1)),
    ]
    score = ScoreBreakdown(
        rules=[
            RuleScore(rule="fit: target industry", points=10),
            RuleScore(rule="document_download", points=10, detail="1× event"),
            RuleScore(rule="pricing_page", points=15, detail="3× event"),
            RuleScore(rule="pricing 3+ times in 14 days", points=15, detail="3× in window"),
        ]
    )
    moments = interesting_moments(
        events, NOW, score, event_types={"pricing_page", "document_download"}, timezone="Asia/Tokyo"
    )
    assert moments == [
        "pricing 3+ times in 14 days (3× in window, +15)",
        "pricing_page 2× this week, 3× in 30 days: /pricing, /pricing/enterprise"
        " (last Nov 27 10:00)",
        "document_download 1× this week: roi-guide (last Nov 26 12:00)",
    ]
    since = interesting_moments(
        events, NOW, ScoreBreakdown(), since=NOW - timedelta(days=1, hours=1)
    )
    assert [m.split(" ")[0] for m in since] == ["document_download", "pricing_page"]


# ---- the sales email activity ----------------------------------------------------------

ACME = load_scenario(SCENARIOS, "acme")


@pytest.fixture
def sales_mail(settings: Settings, store: Store) -> SalesMailActivities:
    return SalesMailActivities(store, settings, OutboxProvider(settings.outbox_dir))


def handed_off_lead(store: Store, settings: Settings, **fields: object) -> Lead:
    """A lead with no consent on record and a global suppression: it may get no email,
    but sales must still hear about its hand-off."""
    lead, _ = store.upsert_lead(
        LeadIn(email="kenji@example.com", first_name="Kenji", company="Kaisha KK", **fields)
    )
    with store.session() as session:
        send_gate.suppress(
            session, email=lead.email, lead_id=lead.id, scope="global", reason="bounced"
        )
    ActivityEnvironment().run(
        HandoffActivities(store, settings).hand_off,
        HandoffInput(
            journey_id=f"journey:acme:{lead.id}",
            lead_id=lead.id,
            product="acme",
            handoff_no=1,
            score=ScoreBreakdown(total=72, fit=20, behavior=52),
            moments=["pricing_page 3× this week"],
            journey_time=NOW,
        ),
    )
    return lead


def notice(lead: Lead, kind: str = "handoff") -> SalesMailInput:
    return SalesMailInput(
        brand=ACME.brand,
        journey_id=f"journey:acme:{lead.id}",
        lead_id=lead.id,
        handoff_no=1,
        kind=kind,
        to="sales@acme.example",
        business_days=2,
        timezone="Asia/Tokyo",
        journey_time=NOW,
    )


def eml(settings: Settings, send_id: str) -> EmailMessage:
    raw = (settings.outbox_dir / "acme" / f"{send_id}.eml").read_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def test_sales_mail_skips_the_leads_consent_and_suppressions_and_is_sent_once(
    sales_mail: SalesMailActivities, settings: Settings, store: Store
) -> None:
    lead = handed_off_lead(store, settings)
    first = ActivityEnvironment().run(sales_mail.notify_sales, notice(lead))
    again = ActivityEnvironment().run(sales_mail.notify_sales, notice(lead))
    assert first.status == again.status == "sent" and first.send_id == again.send_id
    with store.session() as session:
        rows = list(session.scalars(select(Send)))
    assert [(r.send_key, r.mail_type, r.status) for r in rows] == [
        ("sales:handoff#1", "sales", "sent")
    ]
    message = eml(settings, first.send_id)
    assert message["To"].addresses[0].addr_spec == "sales@acme.example"
    text = body(message, "plain")
    assert "Kenji" in text and "Kaisha KK" in text and "kenji@example.com" in text
    assert "pricing_page 3× this week" in text and "Total 72 = fit 20 + behaviour 52" in text
    html = body(message, "html")
    assert (
        f'<a href="http://localhost:8233/namespaces/default/workflows/journey:acme:{lead.id}"'
        in html
    )


def test_sales_mail_is_not_counted_by_the_frequency_cap(
    sales_mail: SalesMailActivities, settings: Settings, store: Store
) -> None:
    lead = handed_off_lead(store, settings)
    for kind in ("handoff", "remind", "escalate"):
        ActivityEnvironment().run(sales_mail.notify_sales, notice(lead, kind))
    with store.session() as session:
        probe = Send(
            id="p",
            journey_id="j",
            send_key="k",
            lead_id=lead.id,
            product="acme",
            mail_type="step",
            template="t",
            subject="",
            provider="outbox",
            journey_time=NOW,
        )
        assert send_gate._cap_frees_at(session, probe, NOW, 1) is None


def test_an_erased_leads_data_is_not_mailed_to_sales(
    sales_mail: SalesMailActivities, settings: Settings, store: Store
) -> None:
    lead = handed_off_lead(store, settings)
    erase_lead(store, lead.id)
    result = ActivityEnvironment().run(sales_mail.notify_sales, notice(lead))
    assert result.status == "suppressed" and "erased" in (result.detail or "")
    assert not list((settings.outbox_dir).glob("**/*.eml"))


def test_a_deadline_at_night_is_met_when_the_window_opens(tmp_path: Path) -> None:
    folder = sla_scenario(tmp_path, "  owner: s@acme.example\n  sla: {business_days: 1}\n")
    scenario = load_scenario_dir(folder)  # window 9-18 in Tokyo
    assert next_sla_notice(scenario, tokyo(26, 5), 0) == (tokyo(27, 9), "remind")  # Thu → Fri
    assert next_sla_notice(scenario, tokyo(27, 22), 0) == (tokyo(31, 9), "remind")  # Fri → Tue


class Unavailable:
    """A provider that is down: nothing was taken, a retry is safe."""

    name = "outbox"
    redelivery_is_harmless = True

    def deliver(self, message: EmailMessage, tags: object) -> str:
        raise retry_later("provider down")


def test_sales_mail_is_retried_until_the_provider_takes_it(
    sales_mail: SalesMailActivities, settings: Settings, store: Store
) -> None:
    lead = handed_off_lead(store, settings)
    down = SalesMailActivities(store, settings, Unavailable())
    with pytest.raises(ApplicationError, match="provider down"):
        ActivityEnvironment().run(down.notify_sales, notice(lead, "remind"))
    with store.session() as session:
        assert session.scalars(select(Send.status)).one() == "queued"
    result = ActivityEnvironment().run(sales_mail.notify_sales, notice(lead, "remind"))
    assert result.status == "sent"
    assert len(list(settings.outbox_dir.glob("**/*.eml"))) == 1
