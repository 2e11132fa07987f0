"""A LINE broadcast on the time-skipping server, with the real line-bot-sdk pushing to a
local LINE API: a lead on LINE gets it there (through its journey, or a broadcast journey),
a lead not on LINE gets the email instead, and each once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.broadcasts.client import schedule_broadcast
from nurture.broadcasts.content import BroadcastError, freeze_content
from nurture.broadcasts.contract import BroadcastProgress, Variant
from nurture.broadcasts.records import broadcast_status, create_broadcast
from nurture.channels.line.links import issue_link_token, link, read_link_token
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.scenario.model import LineMessage
from nurture.store.engine import Store
from nurture.store.models import Send
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead
from tests.helpers.line import LineApi, channel
from tests.helpers.scenarios import scenario_copy

MESSAGE = [{"type": "text", "text": "{{ lead.first_name }}さん、セミナーのご案内です"}]


@pytest.fixture
def line() -> Iterator[LineApi]:
    api = LineApi()
    yield api
    api.close()


async def test_a_line_broadcast_reaches_leads_on_line_and_emails_the_rest(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    line: LineApi,
    tmp_path: Path,
) -> None:
    folder = scenario_copy(settings, tmp_path)
    (folder / "templates" / "invite.line.json").write_text(json.dumps(MESSAGE, ensure_ascii=False))
    (settings.scenarios_dir / "segments.yaml").write_text(
        "segments:\n  saas:\n    lead: {industry: [saas]}\n", encoding="utf-8"
    )
    settings.line_provider = "line"
    settings.line_api_base = line.url
    settings.line_channels = {"acme": channel()}
    with pytest.raises(BroadcastError, match=r"no LINE message nope\.line\.json"):
        freeze_content(
            settings.scenarios_dir, "acme", [Variant(subject="Hi", template="note")],
            LineMessage(template="nope", alt_text="Hi"),
        )  # fmt: skip
    content = freeze_content(
        settings.scenarios_dir, "acme", [Variant(subject="Our seminar", template="note")],
        LineMessage(template="invite", alt_text="Our seminar"),
    )  # fmt: skip
    create_broadcast(
        store, broadcast_id="seminar", product="acme", segment="saas", content=content,
        send_at=None, local_time=False, mail_type="newsletter", by="test",
    )  # fmt: skip
    async with build_worker(client, settings, store):
        now = await advance_to_weekday_noon_tokyo(env, 2)
        on_line = make_lead(store, email="aiko@example.com", first_name="Aiko")
        off_line = make_lead(store, email="ken@example.com", first_name="Ken")
        no_journey = make_lead(store, email="yui@example.com", first_name="Yui")
        for lead in (on_line, off_line):
            outcome = await start_journey(client, settings, store, lead, "acme")
            handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
            await eventually(handle, lambda s: s.emails_sent == 1)
        with store.session() as session:
            for lead, user in ((on_line, "Uaiko"), (no_journey, "Uyui")):
                token = read_link_token(
                    issue_link_token(lead.id, "acme", settings.secret_key, now),
                    settings.secret_key, now,
                )  # fmt: skip
                link(session, token, user, "acme", now)
        assert await schedule_broadcast(client, settings, store, "seminar") == 3
        progress = await client.get_workflow_handle(
            "broadcast:seminar", result_type=BroadcastProgress
        ).result()
        assert progress.handed == 3
        await env.sleep(timedelta(hours=1))
        short = client.get_workflow_handle(f"broadcast-journey:seminar:{no_journey.id}")
        assert (await short.result())["status"] == "sent"

        async def pushed() -> list[str]:
            return sorted(p.to for p in line.pushes)

        for _ in range(100):
            with store.session() as session:
                rows = list(session.scalars(select(Send).where(Send.send_key.like("broadcast:%"))))
            if len([r for r in rows if r.status == "sent"]) == 3:
                break
            await env.sleep(timedelta(minutes=1))
    assert await pushed() == ["Uaiko", "Uyui"]
    assert [p.messages[0]["text"] for p in line.pushes if p.to == "Uaiko"] == [
        "Aikoさん、セミナーのご案内です"
    ]
    by_lead = {(r.lead_id, r.channel): (r.send_key, r.status) for r in rows}
    assert by_lead == {
        (on_line.id, "line"): ("broadcast:seminar.line", "sent"),
        (no_journey.id, "line"): ("broadcast:seminar.line", "sent"),
        (off_line.id, "line"): ("broadcast:seminar.line", "suppressed"),  # not on LINE:
        (off_line.id, "email"): ("broadcast:seminar", "sent"),  # the email instead
    }
    assert broadcast_status(store, "seminar").sends == {"sent": 1, "sent on line": 2,
                                                        "suppressed on line": 1}  # fmt: skip
