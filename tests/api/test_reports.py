"""The engagement report over HTTP and the CLI: a SendGrid lead and a lead mailed over SMTP
(Nurture's own tracking) each show a person's open and click; machine opens never count."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.sending.tracking_tokens import click_token, open_token
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Journey, StageChange, Transition
from tests.helpers.analytics import ab_arms, sent_row
from tests.helpers.api import Api
from tests.helpers.paths import CONSENT
from tests.helpers.processes import run_starter
from tests.helpers.scenarios import scenario_copy
from tests.helpers.sendgrid_webhook import PUBLIC, sg, signed

READER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
APPLE_PROXY = {"User-Agent": "Mozilla/5.0"}
LINK = "https://acme.example/guide?utm_source=nurture"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.sendgrid_webhook_public_key = PUBLIC
    return settings


def sent(store: Store, send_id: str, provider: str) -> str:
    lead, _ = store.upsert_lead(LeadIn(email=f"{send_id}@example.jp", consent=CONSENT))
    at = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        session.add(sent_row(send_id, lead.id, at, provider=provider, subject="Welcome"))
    return lead.id


async def engaged_leads(api: Api, store: Store, settings: Settings) -> None:
    """Three welcome emails: one through SendGrid, two through SMTP (our own tracking); in
    each channel a person opens and clicks one, and Apple's proxy opens the third."""
    by_sendgrid = sent(store, "snd_sg", "sendgrid")
    events = [
        sg("delivered", "d1", by_sendgrid, send_id="snd_sg"),
        sg("open", "o1", by_sendgrid, send_id="snd_sg", sg_machine_open=True),
        sg("open", "o2", by_sendgrid, send_id="snd_sg"),
        sg("click", "c1", by_sendgrid, send_id="snd_sg", url=LINK),
    ]
    body, headers = signed(events)
    assert (await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)).is_success
    sent(store, "snd_smtp", "smtp")
    secret = settings.secret_key
    await api.http.get(f"/v1/t/o/{open_token('snd_smtp', secret)}", headers=APPLE_PROXY)
    await api.http.get(f"/v1/t/o/{open_token('snd_smtp', secret)}", headers=READER)
    click = await api.http.get(f"/v1/t/c/{click_token('snd_smtp', LINK, secret)}", headers=READER)
    assert click.status_code == 302
    sent(store, "snd_prefetched", "smtp")
    await api.http.get(f"/v1/t/o/{open_token('snd_prefetched', secret)}", headers=APPLE_PROXY)


async def test_both_channels_count_a_readers_open_and_click_and_no_machine_open(
    api: Api, store: Store, settings: Settings
) -> None:
    await engaged_leads(api, store, settings)
    refused = await api.http.get("/v1/reports/engagement", headers=api.read)
    assert refused.status_code == 403  # reports need the admin scope
    answer = await api.http.get(
        "/v1/reports/engagement", params={"product": "acme"}, headers=api.admin
    )
    assert answer.status_code == 200, answer.text
    [welcome] = answer.json()["rows"]
    assert (welcome["track"], welcome["step"], welcome["variant"]) == ("cold", "welcome", "A")
    assert welcome["sent"] == 3 and welcome["delivered"] == 1  # SMTP reports no deliveries
    assert welcome["opened"] == 2 and welcome["clicked"] == 2
    assert welcome["machine_opened_only"] == 1  # Apple's proxy alone opened snd_prefetched
    assert welcome["click_to_open"] == 1.0
    assert "machine" in answer.json()["definitions"]["machine_opened_only"]


async def test_the_cli_prints_the_same_report_as_a_table_json_and_csv(
    api: Api, store: Store, settings: Settings
) -> None:
    await engaged_leads(api, store, settings)
    code, table = await run_starter(
        settings, "report", "engagement", "--product", "acme", script="-m nurture.cli"
    )
    assert code == 0, table
    row = next(line for line in table.splitlines() if "welcome" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:9] == ["acme", "cold", "welcome", "A", "3", "1", "0", "2", "66.7%"]
    code, as_json = await run_starter(
        settings, "report", "engagement", "--json", script="-m nurture.cli"
    )
    assert code == 0 and json.loads(as_json)["rows"][0]["opened"] == 2
    code, as_csv = await run_starter(
        settings, "report", "engagement", "--csv", script="-m nurture.cli"
    )
    [line] = list(csv.DictReader(io.StringIO(as_csv)))
    assert (line["step"], line["clicked"], line["click_to_open"]) == ("welcome", "2", "1.0")
    code, both = await run_starter(
        settings, "report", "engagement", "--json", "--csv", script="-m nurture.cli"
    )
    assert code == 2 and "not both" in both


async def test_ab_verdicts_over_http_and_the_cli(
    api: Api, store: Store, settings: Settings
) -> None:
    ab_arms(store, (6, 30), per_arm=150, at=datetime.now(UTC) - timedelta(days=1))
    answer = await api.http.get("/v1/reports/ab", params={"product": "acme"}, headers=api.admin)
    assert answer.status_code == 200, answer.text
    [test] = answer.json()["tests"]
    assert (test["step"], test["verdict"], test["leader"]) == ("guide", "winner", "B")
    assert [(a["variant"], a["sent"], a["successes"]) for a in test["arms"]] == [
        ("A", 150, 6),
        ("B", 150, 30),
    ]
    assert (await api.http.get("/v1/reports/ab", headers=api.ingest)).status_code == 403
    code, table = await run_starter(settings, "report", "ab", script="-m nurture.cli")
    assert code == 0, table
    assert "winner: B" in table and "A 6/150 (4.0%)" in table and "B 30/150 (20.0%)" in table
    code, as_csv = await run_starter(settings, "report", "ab", "--csv", script="-m nurture.cli")
    lines = list(csv.DictReader(io.StringIO(as_csv)))
    assert [(line["variant"], line["verdict"]) for line in lines] == [
        ("A", "winner"),
        ("B", "winner"),
    ]


async def test_what_led_to_sales_over_http_and_the_cli(
    api: Api, store: Store, settings: Settings
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="won@example.jp", source="webinar", consent=CONSENT))
    journey_id = f"journey:acme:{lead.id}"
    at = datetime.now(UTC) - timedelta(days=3)
    with store.session() as session:
        session.add(sent_row("w1", lead.id, at, template="t"))
        session.add(
            Transition(journey_id=journey_id, seq=1, lead_id=lead.id, product="acme",
                       to_lifecycle="handed_off", stage="hot", score=70, actor="journey",
                       reason="", journey_time=at + timedelta(days=1))
        )  # fmt: skip
    answer = await api.http.get("/v1/reports/attribution", headers=api.admin)
    assert answer.status_code == 200, answer.text
    [credit] = answer.json()["steps"]
    assert (credit["step"], credit["handoffs_any_touch"], credit["handoffs_last_touch"]) == (
        "welcome", 1, 1,
    )  # fmt: skip
    assert answer.json()["by_source"] == [
        {"product": "acme", "source": "webinar", "handoffs": 1, "wins": 0}
    ]
    code, table = await run_starter(settings, "report", "attribution", script="-m nurture.cli")
    assert code == 0, table
    assert "By lead source" in table and "webinar" in table
    code, as_csv = await run_starter(
        settings, "report", "attribution", "--csv", script="-m nurture.cli"
    )
    [line] = list(csv.DictReader(io.StringIO(as_csv)))
    assert (line["step"], line["handoffs_last_touch"]) == ("welcome", "1")


async def test_when_leads_read_over_http_and_the_cli(
    api: Api, store: Store, settings: Settings
) -> None:
    await engaged_leads(api, store, settings)
    answer = await api.http.get("/v1/reports/send-time", headers=api.admin)
    assert answer.status_code == 200, answer.text
    [acme] = answer.json()["products"]
    [other] = acme["roles"]  # the test leads have no role
    assert other["role"] == "other" and other["reads"] == 4  # 2 opens and 2 clicks by people
    assert sum(map(sum, other["grid"])) == 4
    code, table = await run_starter(settings, "report", "send-time", script="-m nurture.cli")
    assert code == 0, table
    assert "when leads read" in table and "mon" in table
    code, as_csv = await run_starter(
        settings, "report", "send-time", "--csv", script="-m nurture.cli"
    )
    lines = list(csv.DictReader(io.StringIO(as_csv)))
    assert sum(int(line["reads"]) for line in lines) == 4 and lines[0]["role"] == "other"


async def test_the_funnel_over_http_and_the_cli(api: Api, store: Store, settings: Settings) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="hot@example.jp", consent=CONSENT))
    journey_id = f"journey:acme:{lead.id}"
    at = datetime.now(UTC) - timedelta(days=3)
    with store.session() as session:
        session.add(sent_row("f1", lead.id, at))
        session.add(StageChange(journey_id=journey_id, seq=1, lead_id=lead.id, product="acme",
                                from_stage=None, to_stage="hot", score=70, track="cold",
                                journey_time=at))  # fmt: skip
    assert (await api.http.get("/v1/reports/funnel", headers=api.ingest)).status_code == 403
    answer = await api.http.get("/v1/reports/funnel", headers=api.admin)
    assert answer.status_code == 200, answer.text
    [cold] = answer.json()["tracks"]
    assert (cold["track"], cold["entered"], cold["hot"]) == ("cold", 1, 1)
    assert cold["steps"][0] == {"step": "welcome", "journeys": 1, "drop_off": 0.0}
    [flow] = answer.json()["stage_flow"]
    assert flow["weeks"][-1]["in_stage"] == {"cold": 0, "warm": 0, "hot": 1}
    code, table = await run_starter(settings, "report", "funnel", script="-m nurture.cli")
    assert code == 0, table
    assert "acme · track cold" in table and "stage flow, week by week" in table
    code, as_csv = await run_starter(settings, "report", "funnel", "--csv", script="-m nurture.cli")
    journeys = {line["stage"]: line["journeys"] for line in csv.DictReader(io.StringIO(as_csv))}
    assert (journeys["entered"], journeys["step:welcome"], journeys["hot"]) == ("1", "1", "1")


async def test_what_nurturing_adds_over_http_and_the_cli(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    holdout = "holdout: 50%\nentry_track: cold"
    scenario_copy(settings, tmp_path, old="entry_track: cold", new=holdout)
    leads = [
        store.upsert_lead(LeadIn(email=f"h{i}@example.jp", consent=CONSENT))[0] for i in range(10)
    ]
    with store.session() as session:
        for lead in leads:
            journey = Journey(
                workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"
            )
            session.add(journey)
    assert (await api.http.get("/v1/reports/holdout", headers=api.ingest)).status_code == 403
    answer = await api.http.get("/v1/reports/holdout", headers=api.admin)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["rows"]
    assert row["share"] == 0.5 and row["nurtured"]["leads"] + row["control"]["leads"] == 10
    assert [lift["verdict"] for lift in row["lifts"]] == ["no lift shown", "no lift shown"]
    code, table = await run_starter(settings, "report", "holdout", script="-m nurture.cli")
    assert code == 0, table
    assert "acme · control group 50%" in table and "conversion: +0.0% (no test)" in table
