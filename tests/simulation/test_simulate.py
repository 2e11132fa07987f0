"""`nurture simulate` on the time-skipping server: a persona's timeline is what a journey
driven by the same events produces; the report as text, JSON and a page in Chromium; and
`nurture validate --simulate` refusing a scenario that hands nobody off."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from selenium.webdriver.common.by import By
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.leads.events import BehaviorEvent
from nurture.scenario.loader import load_scenario
from nurture.simulation.personas import Persona
from nurture.simulation.results import LeadRun
from nurture.simulation.run import first_monday_morning
from nurture.simulation.simulate import simulate
from nurture.simulation.timelines import email_text, previous_in_track
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Send, StageChange, Transition
from nurture.worker_setup import build_worker
from tests.helpers.browser import chromium, console_errors
from tests.helpers.paths import CONSENT, SCENARIOS
from tests.helpers.processes import run_starter
from tests.helpers.scenarios import scenario_copy

READER = Persona.model_validate(
    {
        "name": "reader",
        "attributes": {"role": "practitioner", "industry": "saas", "company_size": 120},
        "script": [
            "day 2: document_download",
            "day 9: page /product",
            "day 10: page /product",
            "day 11: product_page",
            "day 12: page /pricing",
        ],
        "feedback": [{"days_after_handoff": 3, "outcome": "accepted"}],
    }
)
COMPARED = ("email", "stage", "lifecycle", "handoff")


def comparable(run: LeadRun, start: datetime) -> list[tuple[float, str, str]]:
    return [
        ((item.at - start).total_seconds(), item.kind, item.text)
        for item in run.timeline
        if item.kind in COMPARED
    ]


async def test_a_personas_timeline_is_what_a_journey_with_the_same_events_does(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    sim = await simulate(settings, SCENARIOS, "acme", [READER], months=2)
    [simulated] = sim.leads
    assert simulated.handed_off_day == 12 and simulated.lifecycle == "sal"
    behaviour = [i for i in simulated.timeline if i.kind in ("behaviour", "feedback")]
    assert [i.text for i in behaviour] == [
        "document_download",
        "product_page /product",
        "product_page /product",
        "product_page",
        "pricing_page /pricing",
        "sales: accepted",
    ]

    # The same events, at the same moments, to a journey of the ordinary test worker.
    scenario = load_scenario(SCENARIOS, "acme")
    start = first_monday_morning(await env.get_current_time(), scenario)
    assert start == sim.started_at  # both runs start on the same Monday morning
    async with build_worker(client, settings, store):
        await env.sleep(start - await env.get_current_time())
        lead, _ = store.upsert_lead(
            LeadIn(
                email="reader@example.com",
                first_name="Reader",
                consent=CONSENT,
                **READER.attributes,
            )
        )
        outcome = await start_journey(client, settings, store, lead, "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        for n, item in enumerate(behaviour):
            await env.sleep(item.at - await env.get_current_time())
            if item.kind == "feedback":
                await handle.execute_update(
                    "sales_feedback", {"outcome": "accepted", "by": "simulated sales"}
                )
                continue
            kind, _, url = item.text.partition(" ")
            event = BehaviorEvent(event_id=f"e{n}", type=kind, occurred_at=item.at, url=url or None)
            await handle.signal("behaviors", [event])
        await env.sleep(sim.ended_at - await env.get_current_time())
    with store.session() as session:
        sends = list(session.scalars(select(Send).order_by(Send.journey_time)))
        moves = list(session.scalars(select(StageChange).order_by(StageChange.seq)))
        transitions = list(session.scalars(select(Transition).order_by(Transition.seq)))
    driven: list[tuple[float, str, str]] = []
    for send in sends:
        if send.mail_type != "sales":
            text = email_text(scenario, send, previous_in_track(sends, send))
            driven.append((seconds(send.journey_time, start), "email", text))
    for move in moves[1:]:
        text = f"{move.from_stage} → {move.to_stage} (score {move.score}, on {move.track})"
        driven.append((seconds(move.journey_time, start), "stage", text))
    for t in transitions[1:]:
        kind = "handoff" if t.to_lifecycle == "handed_off" else "lifecycle"
        driven.append(
            (
                seconds(t.journey_time, start),
                kind,
                f"{t.from_lifecycle} → {t.to_lifecycle}: {t.reason}",
            )
        )
    # The same entries, at the same moments (to the second: starting a journey takes a few
    # milliseconds of workflow time, differently in each run).
    expected = sorted(comparable(simulated, start), key=lambda e: (e[0] // 60, e[1], e[2]))
    found = sorted(driven, key=lambda e: (e[0] // 60, e[1], e[2]))
    assert [(kind, text) for _, kind, text in found] == [(k, t) for _, k, t in expected]
    assert all(abs(a[0] - b[0]) < 1 for a, b in zip(found, expected, strict=True))
    assert len(expected) >= 8  # emails, stage moves, mql, the hand-off, acceptance


def seconds(moment: datetime, start: datetime) -> float:
    from datetime import UTC

    return ((moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - start).total_seconds()


async def test_the_report_as_text_json_and_a_page(settings: Settings, tmp_path: Path) -> None:
    personas = tmp_path / "personas.yaml"
    personas.write_text(
        "personas:\n"
        "  - name: pricing watcher\n"
        "    attributes: {role: manager, industry: saas, company_size: 400}\n"
        "    script: ['day 3: page /pricing', 'day 4: webinar_attended', 'day 20: <b>oops</b>']\n"
    )
    code, out = await run_starter(
        settings, "simulate", "acme", "--scenario", str(SCENARIOS), "--personas", str(personas),
        script="-m nurture.cli",
    )  # fmt: skip
    assert code == 2 and "script" in out and "neither 'page'" in out, out
    personas.write_text(personas.read_text().replace(", 'day 20: <b>oops</b>'", ""))
    page = tmp_path / "simulation.html"
    code, out = await run_starter(
        settings, "simulate", "acme", "--scenario", str(SCENARIOS / "acme"),
        "--personas", str(personas), "--months", "2", "--html", str(page), "--json",
        script="-m nurture.cli",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads(out[out.index("{") :])
    [lead] = report["leads"]
    assert lead["persona"] == "pricing watcher" and lead["handed_off_day"] in (3, 4)
    assert report["population"]["handoffs"] == 1
    with chromium() as driver:
        driver.get(page.as_uri())
        assert "pricing watcher" in driver.find_element(By.TAG_NAME, "h3").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg circle")) == len(lead["timeline"])
        assert console_errors(driver) == []
    code, out = await run_starter(
        settings, "simulate", "acme", "--scenario", str(SCENARIOS), "--personas", str(personas),
        "--months", "1", script="-m nurture.cli",
    )  # fmt: skip
    assert code == 0, out
    assert "pricing watcher · " in out and "handoff   mql → handed_off" in out
    assert "simulated day 0 of" in out  # progress


async def test_validate_simulate_refuses_a_scenario_that_hands_nobody_off(
    settings: Settings, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path, old="  hot: 50\n", new="  hot: 400\n")
    code, out = await run_starter(
        settings, "validate", str(folder), "--simulate", script="-m nurture.cli"
    )
    assert code == 1, out
    assert "nobody was handed off to sales (personas: bouncer, buyer," in out
    code, out = await run_starter(
        settings, "validate", str(SCENARIOS / "acme"), "--simulate", script="-m nurture.cli"
    )
    assert code == 0, out
    assert "simulated 12 months with the built-in personas:" in out and "no problem" in out


async def test_the_figures_count_goals_the_control_group_and_resends(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    richer = "goals:\n  - {name: demo-booked, event: demo_booked}\nholdout: 50%\nentry_track: cold"
    folder = scenario_copy(settings, tmp_path, old="entry_track: cold", new=richer)
    yaml = folder / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(
        'subject: "Welcome, {{ lead.first_name }}"}',
        'subject: "Welcome, {{ lead.first_name }}", unless_engaged: {within: 3d, resend: Hi}}',
    ))  # fmt: skip
    booker = Persona.model_validate({"name": "booker", "script": ["day 5: demo_booked"]})
    silent = Persona.model_validate({"name": "silent"})
    sim = await simulate(settings, tmp_path, "acme", [booker, silent] * 4, months=1)
    figures = sim.population
    assert figures.goals == {"demo-booked": 4}
    in_control = [lead for lead in sim.leads if lead.emails == 0]
    assert figures.control_group == len(in_control) and 0 < len(in_control) < 8
    assert figures.resends == 8 - len(in_control)  # nobody opened a welcome
