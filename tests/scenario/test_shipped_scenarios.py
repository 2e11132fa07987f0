"""The two shipped products nurture real leads: Japanese and English mail, in their windows."""

from __future__ import annotations

import email
import json
from datetime import timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.channels.line.messages import render_line_messages
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.mail.render import SAMPLE_JOURNEY, TemplateRenderer, email_context
from nurture.scenario.loader import load_scenario
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Send
from tests.helpers.email import body
from tests.helpers.journeys import utc
from tests.helpers.paths import CONSENT, REPO

LEADS = {
    "cloudbook": LeadIn(
        email="aiko@example.jp",
        first_name="愛子",
        last_name="佐藤",
        company="サンプル商事",
        title="経理部長",
        role="manager",
        industry="saas",
        company_size=300,
        department="経理",
        consent=CONSENT,
    ),
    "smartfactory": LeadIn(
        email="dana@example.com",
        first_name="Dana",
        last_name="Miller",
        company="Miller Plastics",
        title="Plant Director",
        role="executive",
        industry="manufacturing",
        company_size=900,
        consent=CONSENT,
    ),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.scenarios_dir = REPO / "scenarios"
    return settings


@pytest.mark.parametrize("product", ["cloudbook", "smartfactory"])
async def test_a_shipped_scenario_nurtures_for_two_months(
    product: str,
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    worker: Worker,
) -> None:
    scenario = load_scenario(settings.scenarios_dir, product)
    lead, _ = store.upsert_lead(LEADS[product])
    await start_journey(client, settings, store, lead, product)
    await env.sleep(timedelta(days=62))

    with store.session() as session:
        sent = list(session.scalars(select(Send).order_by(Send.journey_time)))
    assert len(sent) >= 2 and all(s.status == "sent" for s in sent)
    window = scenario.send_window
    assert window is not None
    zone = ZoneInfo(window.timezone)
    for send in sent:
        local = utc(send.journey_time).astimezone(zone)
        assert window.hours[0] <= local.hour < window.hours[1]
        assert local.strftime("%a").lower() in window.weekdays
        assert local.date() not in window.holidays

    raw = (settings.outbox_dir / product / f"{sent[0].id}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    html = body(message, "html")
    assert message["Subject"] == sent[0].subject
    assert scenario.sender.postal_address in html and "/v1/unsubscribe/" in html
    if product == "cloudbook":
        assert "佐藤" in html and any("\u3040" <= ch <= "\u30ff" for ch in message["Subject"])
    else:
        assert "Dana" in html


def shipped_html(product: str, template: str, *, stage: str = "warm", **lead: str) -> str:
    scenario = load_scenario(REPO / "scenarios", product)
    renderer = TemplateRenderer.for_folder(REPO / "scenarios" / product)
    context = email_context(
        scenario.brand,
        {"first_name": "Aiko", "role": "manager", **lead},
        unsubscribe_url="https://x.example/u",
        preferences_url="https://x.example/p",
        journey={**SAMPLE_JOURNEY, "stage": stage},
    )
    return renderer.render(template, "subject", context).html


@pytest.mark.parametrize(
    ("product", "template", "industries", "says"),
    [
        ("cloudbook", "cold-customer-story", ("construction", "saas"), "建設業のお客さま"),
        (
            "smartfactory",
            "cold-customer-story",
            ("automotive", "plastics"),
            "automotive and metals",
        ),
    ],
)
def test_shipped_content_speaks_to_the_leads_industry(
    product: str, template: str, industries: tuple[str, str], says: str
) -> None:
    fits, other = industries
    assert says in shipped_html(product, template, industry=fits)
    assert says not in shipped_html(product, template, industry=other)


@pytest.mark.parametrize(
    ("product", "template", "says"),
    [
        ("cloudbook", "warm-trial", "お見積りと導入スケジュール"),
        ("smartfactory", "warm-pilot", "fixed-price pilot proposal"),
    ],
)
def test_shipped_content_offers_more_to_a_hot_lead(product: str, template: str, says: str) -> None:
    assert says in shipped_html(product, template, stage="hot")
    assert says not in shipped_html(product, template, stage="warm")


def test_cloudbook_invites_to_its_seminar_on_line_and_by_email_otherwise() -> None:
    scenario = load_scenario(REPO / "scenarios", "cloudbook")
    [(path, step)] = scenario.line_steps()
    assert path[:2] == ("tracks", "warm") and step.key == "seminar-invite"
    assert step.fallback == "email" and step.template == "warm-seminar-invite"
    renderer = TemplateRenderer.for_folder(REPO / "scenarios" / "cloudbook")
    lead = LEADS["cloudbook"].model_dump()
    context = email_context(
        scenario.brand, lead, unsubscribe_url="u", preferences_url="u", journey=SAMPLE_JOURNEY
    )
    assert step.line is not None
    source = (REPO / "scenarios/cloudbook/templates/warm-seminar-invite.line.json").read_text()
    rendered = render_line_messages(renderer.env, "warm", source, step.line.alt_text, context)
    assert rendered.messages[0]["text"].startswith("佐藤 愛子様\n")
    assert rendered.messages[1]["altText"] == step.line.alt_text
    assert "utm_medium=line" in json.dumps(rendered.messages[1])
