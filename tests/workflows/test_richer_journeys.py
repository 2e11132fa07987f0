"""Richer journeys on the time-skipping server: a trigger knows what fired it, fires on a
pattern or a stage, and a control group gets no message."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import give_feedback, start_journey
from nurture.journey.contract import SalesFeedback
from nurture.journey.lifecycle import FeedbackOutcome
from nurture.schedule.variants import in_holdout
from nurture.store.engine import Store
from nurture.store.models import Conversion, Handoff, Transition
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD, Api
from tests.helpers.email import body
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    hand_off,
    make_lead,
    rows,
    sends,
    started,
    state,
)
from tests.helpers.scenarios import scenario_copy

FOLLOWUP = (
    '{% extends "layout.html" %}{% block body %}<p>Thanks for downloading '
    '{% if event.properties.document is defined %}"{{ event.properties.document }}"'
    "{% else %}our guide{% endif %} ({{ event.type }}).</p>{% endblock %}"
)


async def test_a_trigger_email_names_the_document_that_fired_it(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(
        settings,
        tmp_path,
        old="    template: note\n    subject: Thanks for downloading\n",
        new="    template: followup\n    subject: Thanks for downloading\n",
    )
    (folder / "templates" / "followup.html").write_text(FOLLOWUP)
    async with build_worker(client, settings, store):
        named = await started(env, client, settings, store, email="a@example.com")
        await behave(env, named, "document_download", document="Expense guide 2026")
        bare = await started(env, client, settings, store, email="b@example.com")
        await behave(env, bare, "document_download")
        for handle in (named, bare):
            await eventually(handle, lambda s: s.emails_sent >= 2)
    texts = {}
    for send in sends(store):
        if send.send_key.startswith("trigger:"):
            raw = (settings.outbox_dir / "acme" / f"{send.id}.eml").read_bytes()
            message = email.message_from_bytes(raw, policy=policy.default)
            texts[send.journey_id] = body(message, "plain")
    assert 'Thanks for downloading "Expense guide 2026" (document_download).' in texts[named.id]
    assert "Thanks for downloading our guide (document_download)." in texts[bare.id]


PATTERN_TRIGGER = """  - key: product-offer
    when: {pattern: product page 3+ times in 14 days}
    template: note
    subject: A special offer on the product you keep looking at
    cooldown: 30d
  - key: hot-call
    when: {stage: hot}
    template: note
    subject: Shall we talk?
branches:"""


async def test_a_pattern_trigger_fires_on_the_third_product_page_and_a_stage_one_on_hot(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old="branches:", new=PATTERN_TRIGGER)
    settings.frequency_cap_per_week = 10  # four emails in a day: the cap is not the subject
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        for _ in range(2):
            await behave(env, handle, "product_page")
        st = await eventually(handle, lambda s: s.score.behavior == 10)
        assert not any("product-offer" in e.text for e in st.timeline)  # not before the third
        await behave(env, handle, "product_page")
        st = await eventually(handle, lambda s: any("product-offer" in e.text for e in s.timeline))
        fired = [e.text for e in st.timeline if e.kind == "trigger"]
        assert fired == [
            "trigger 'product-offer' fired by pattern 'product page 3+ times in 14 days'"
        ]
        await behave(env, handle, "product_page")  # the pattern still holds: no second offer
        await behave(env, handle, "document_download", document="price list")  # → hot
        st = await eventually(handle, lambda s: any("hot-call" in e.text for e in s.timeline))
        await eventually(handle, lambda s: s.emails_sent == 4)  # the hot-call email is out
    assert st.stage == "hot"
    fired = [e.text for e in st.timeline if e.kind == "trigger"]
    assert fired[1:] == ["trigger 'download-followup' fired by document_download",
                         "trigger 'hot-call' fired by stage hot"]  # fmt: skip
    keys = [s.send_key for s in sends(store) if s.mail_type == "trigger"]
    assert keys == ["trigger:product-offer#1", "trigger:download-followup#1", "trigger:hot-call#1"]


async def test_a_lead_in_the_control_group_gets_no_message_yet_is_scored_and_handed_off(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(
        settings, tmp_path, old="entry_track: cold", new="holdout: 10%\nentry_track: cold"
    )
    held = next(
        lead
        for lead in (make_lead(store, email=f"lead{i}@example.com") for i in range(200))
        if in_holdout(lead.id, "acme", 0.1)
    )
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        outcome = await start_journey(client, settings, store, held, "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await eventually(handle, lambda s: any(e.kind == "holdout" for e in s.timeline))
        await behave(env, handle, "document_download")  # a trigger: no message either
        await hand_off(env, handle)
        await env.sleep(timedelta(days=40))
        st = await state(handle)
    assert st.lifecycle == "handed_off" and st.emails_sent == 0
    said = [e.text for e in st.timeline if e.kind == "holdout"]
    assert said[:2] == [
        "control group: no message for step 1/7 'welcome' on cold",
        "control group: no message for trigger 'download-followup' ← document_download",
    ]
    assert [s for s in sends(store) if s.journey_id == handle.id] == []
    assert len(rows(store, Handoff)) == 1


GOALS = """goals:
  - {name: demo-booked, event: demo_booked}
  - {name: opportunity, lifecycle: opportunity, then: continue}
entry_track: cold"""


async def test_a_goal_ends_the_journey_as_converted_and_a_lifecycle_goal_is_recorded(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old="entry_track: cold", new=GOALS)
    async with build_worker(client, settings, store):
        booked = await started(env, client, settings, store, email="a@example.com")
        await behave(env, booked, "demo_booked")
        result = await booked.result()
        sold = await started(env, client, settings, store, email="b@example.com")
        await hand_off(env, sold)
        lead_id = sold.id.split(":")[-1]
        for outcome in ("accepted", "opportunity"):
            await give_feedback(client, "acme", lead_id, SalesFeedback(outcome=outcome))
        st = await eventually(sold, lambda s: any(e.kind == "goal" for e in s.timeline))
    assert result.reason == "goal 'demo-booked' reached"
    assert st.ended_reason is None and st.lifecycle == "opportunity"  # then: continue
    assert [e.text for e in st.timeline if e.kind == "goal"] == [
        "goal 'opportunity' reached (sales feedback: opportunity)"
    ]
    converted = {(c.journey_id, c.goal) for c in rows(store, Conversion)}
    assert converted == {(booked.id, "demo-booked"), (sold.id, "opportunity")}


WHO = """entry:
  - {when: {source: [trade_show]}, track: warm}
entry_track: cold"""
EXECUTIVE_GUIDE = (
    '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"], '
    "only_if: {role: [executive]}}"
)


async def test_who_the_lead_is_picks_its_first_track_and_its_steps(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path, old="entry_track: cold", new=WHO)
    yaml = folder / "scenario.yaml"
    guide = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
    yaml.write_text(yaml.read_text().replace(guide, EXECUTIVE_GUIDE))
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        handles = {}
        for name, fields in {
            "booth": {"source": "trade_show", "role": "practitioner"},
            "cfo": {"role": "executive"},
            "dev": {"role": "practitioner"},
        }.items():
            lead = make_lead(store, email=f"{name}@example.com", **fields)
            outcome = await start_journey(client, settings, store, lead, "acme")
            handles[name] = client.get_workflow_handle(outcome.journey_id)
        await env.sleep(timedelta(days=31))
        states = {name: await state(handle) for name, handle in handles.items()}
    assert states["booth"].timeline[0].text.startswith("journey started on track 'warm'")
    sent = {name: [s.send_key for s in sends(store) if s.journey_id == h.id]
            for name, h in handles.items()}  # fmt: skip
    assert sent["cfo"] == ["cold#1/welcome", "cold#1/guide"]
    assert sent["dev"] == ["cold#1/welcome"]  # the guide is for executives only
    assert any("passed over step 'guide'" in e.text for e in states["dev"].timeline)
    assert sent["booth"][:2] == ["warm#1/case-study", "warm#1/demo-invite"]


RESEND = (
    '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"], '
    'unless_engaged: {within: 3d, resend: "Did you see our guide?"}}'
)


async def test_a_step_nobody_opened_in_three_days_goes_again_and_one_opened_does_not(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    yaml = folder / "scenario.yaml"
    guide = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
    yaml.write_text(yaml.read_text().replace(guide, RESEND))
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        handles = {}
        for name in ("silent", "reader", "scanner"):
            lead = make_lead(store, email=f"{name}@example.com")
            outcome = await start_journey(client, settings, store, lead, "acme")
            handles[name] = client.get_workflow_handle(outcome.journey_id)
        await env.sleep(timedelta(days=31))  # the guide goes out
        guide_of = {s.journey_id: s.id for s in sends(store) if s.send_key == "cold#1/guide"}
        await behave(env, handles["reader"], "email_open", send_id=guide_of[handles["reader"].id])
        await behave(env, handles["scanner"], "email_open", send_id=guide_of[handles["scanner"].id],
                     machine_open=True)  # a mail scanner: no person  # fmt: skip
        await env.sleep(timedelta(days=4))
        for name in ("silent", "scanner"):  # the resend is out
            await eventually(handles[name], lambda s: s.emails_sent == 3)
        states = {name: await state(handle) for name, handle in handles.items()}
    resent = {s.journey_id: s for s in sends(store) if s.send_key == "cold#1/guide~resend"}
    assert set(resent) == {handles["silent"].id, handles["scanner"].id}
    assert resent[handles["silent"].id].subject == "Did you see our guide?"
    assert any("no follow-up needed" in e.text for e in states["reader"].timeline)
    assert any("no open or click of step 'guide' on cold: sending it again" in e.text
               for e in states["silent"].timeline)  # fmt: skip
    assert states["silent"].step_key == "benchmark"  # the track goes on as before


async def test_a_lead_who_did_not_respond_switches_track(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    yaml = folder / "scenario.yaml"
    guide = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
    switch = guide[:-1] + ", unless_engaged: {within: 3d, track: warm}}"
    yaml.write_text(yaml.read_text().replace(guide, switch))
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        await env.sleep(timedelta(days=34))
        st = await state(handle)
    assert st.track == "warm"
    assert "track 'cold' → 'warm': no open or click of step 'guide' on cold" in [
        e.text for e in st.timeline
    ]


async def sales_answer(client: Client, handle: WorkflowHandle, *outcomes: FeedbackOutcome) -> None:
    """Sales answers each of `outcomes` in turn for the journey's lead."""
    lead_id = handle.id.split(":")[-1]
    for outcome in outcomes:
        await give_feedback(client, "acme", lead_id, SalesFeedback(outcome=outcome))


async def test_a_lost_deal_is_nurtured_again_after_its_cool_off(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    reentry = "on_lost: {after: 90d, track: cold}\nentry_track: cold"
    scenario_copy(settings, tmp_path, old="entry_track: cold", new=reentry)
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        await hand_off(env, handle)
        await sales_answer(client, handle, "accepted", "lost")
        resting = await state(handle)
        await env.sleep(timedelta(days=89))
        still = await state(handle)
        await env.sleep(timedelta(days=2))
        st = await eventually(handle, lambda s: s.lifecycle == "recycled")
        await env.sleep(timedelta(days=31))
        later = await state(handle)
    assert resting.lifecycle == "lost" and resting.ended_reason is None
    assert any("lost deal: nurtured again from" in e.text for e in resting.timeline)
    assert still.lifecycle == "lost" and still.emails_sent == resting.emails_sent
    assert "lost → recycled: lost deal nurtured again after 90d" in [e.text for e in st.timeline]
    assert later.emails_sent > resting.emails_sent  # nurturing goes on
    moves = [(t.from_lifecycle, t.to_lifecycle, t.actor) for t in rows(store, Transition)]
    assert moves[-1] == ("lost", "recycled", "journey")


async def test_a_new_title_moves_a_running_journey_onto_another_track_mid_wait(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    api: Api,
    tmp_path: Path,
) -> None:
    executives = "branches:\n  - when: {lead: {role: [executive]}}\n    from: [cold]\n    to: warm"
    scenario_copy(settings, tmp_path, old="branches:", new=executives)
    lead = {**LEAD, "role": "practitioner"}
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        started_ = (await api.http.post("/v1/leads", json=lead, headers=api.leads)).json()
        handle = client.get_workflow_handle(started_["journeys"][0]["journey_id"])
        await eventually(handle, lambda s: s.emails_sent == 1)  # welcome; the guide in 30 days
        await env.sleep(timedelta(days=5))
        assert (await state(handle)).track == "cold"
        promoted = await api.http.post("/v1/leads", json={**lead, "role": "executive"},
                                       headers=api.leads)  # fmt: skip
        assert promoted.status_code == 200 and promoted.json()["created"] is False
        st = await eventually(handle, lambda s: s.track == "warm")
    texts = [e.text for e in st.timeline]
    assert "profile updated: role practitioner → executive" in texts
    assert "track 'cold' → 'warm': who the lead is" in texts


PLAN_ATTRIBUTES = (
    "attributes:\n"
    "  plan: {type: enum, values: [starter, enterprise]}\n"
    "  seats: {type: number}\n"
    "branches:\n"
    "  - when: {lead: {plan: enterprise, seats: {at_least: 50}}}\n"
    "    from: [cold]\n"
    "    to: warm"
)


async def test_an_attribute_update_moves_a_running_journey_and_reaches_its_emails(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    api: Api,
    tmp_path: Path,
) -> None:
    folder = scenario_copy(settings, tmp_path, old="branches:", new=PLAN_ATTRIBUTES)
    yaml = folder / "scenario.yaml"
    yaml.write_text(
        yaml.read_text()
        .replace("subject: Case study}", 'subject: "Case study for {{ lead.attributes.plan }}"}')
        .replace(
            "fit:\n",
            "fit:\n  - {name: a big team, field: seats, between: [50, 100000], points: 7}\n",
        )
    )
    lead = {**LEAD, "attributes": {"plan": "starter"}}
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        started_ = (await api.http.post("/v1/leads", json=lead, headers=api.leads)).json()
        handle = client.get_workflow_handle(started_["journeys"][0]["journey_id"])
        await eventually(handle, lambda s: s.emails_sent == 1)  # welcome; the guide in 30 days
        await env.sleep(timedelta(days=5))
        assert (await state(handle)).track == "cold"
        patched = await api.http.patch(
            f"/v1/leads/{started_['lead_id']}",
            json={"attributes": {"plan": "Enterprise", "seats": 80}},
            headers=api.leads,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["profile"]["attributes"] == {"plan": "enterprise", "seats": 80}
        st = await eventually(handle, lambda s: s.track == "warm")
        await env.sleep(timedelta(days=2))
        st = await eventually(handle, lambda s: s.emails_sent == 2)
    texts = [e.text for e in st.timeline]
    assert "profile updated: plan starter → enterprise, seats None → 80" in texts
    assert "track 'cold' → 'warm': who the lead is" in texts
    assert any(r.rule == "fit: a big team" and r.points == 7 for r in st.score.rules)
    assert [s.subject for s in sends(store)][-1] == "Case study for enterprise"


WELCOME_BACK = (
    "triggers:\n"
    "  - {key: welcome-back, when: {lifecycle: recycled}, template: note, "
    "subject: We are still here}\n"
    "  - key: download-followup"
)


async def test_a_lead_sales_hands_back_gets_the_trigger_on_its_lifecycle_move(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old="triggers:\n  - key: download-followup",
                  new=WELCOME_BACK)  # fmt: skip
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        await hand_off(env, handle)
        handed = await state(handle)
        await sales_answer(client, handle, "accepted")
        accepted = await state(handle)
        await sales_answer(client, handle, "rejected")
        st = await eventually(handle, lambda s: s.emails_sent > handed.emails_sent)
    assert accepted.emails_sent == handed.emails_sent  # accepting is no move out of sales
    assert "trigger 'welcome-back' fired by lifecycle recycled" in [e.text for e in st.timeline]
    assert [s.subject for s in sends(store) if s.send_key.startswith("trigger:")] == [
        "We are still here"
    ]


async def test_a_won_deal_is_nurtured_as_a_customer_after_its_rest_and_never_handed_off(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    cross_sell = "on_customer: {after: 30d, track: warm}\nentry_track: cold"
    scenario_copy(settings, tmp_path, old="entry_track: cold", new=cross_sell)
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        await hand_off(env, handle)
        await sales_answer(client, handle, "accepted", "won")
        won = await state(handle)
        handed = len(rows(store, Handoff))
        await env.sleep(timedelta(days=29))
        resting = await state(handle)
        await env.sleep(timedelta(days=6))  # its rest, then the track's first step (1d)
        st = await eventually(handle, lambda s: s.emails_sent > won.emails_sent)
        for _ in range(2):  # hot again: a customer is not handed off again
            await behave(env, handle, "pricing_page")
        later = await state(handle)
    assert won.lifecycle == "customer" and won.ended_reason is None
    assert "won deal: nurtured again from" in " ".join(e.text for e in won.timeline)
    assert resting.emails_sent == won.emails_sent  # resting: nothing sent
    assert st.lifecycle == "customer" and st.track == "warm"
    assert any(e.text.endswith("→ 'warm': customer nurtured after 30d") for e in st.timeline)
    assert later.lifecycle == "customer" and len(rows(store, Handoff)) == handed
    moves = [(t.from_lifecycle, t.to_lifecycle) for t in rows(store, Transition)]
    assert moves[-1][1] == "customer"  # and no move after it
