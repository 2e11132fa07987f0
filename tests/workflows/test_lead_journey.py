"""LeadJourney on the time-skipping test server: what a lead would experience over months."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.handoff import SIGNATURE_HEADER, sign_body
from nurture.config import Settings
from nurture.journey.client import give_feedback, start_journey
from nurture.journey.contract import (
    JourneyState,
    SalesFeedback,
    Unsubscribe,
)
from nurture.leads.events import BehaviorEvent
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Handoff, StageChange, Transition
from nurture.worker_setup import build_worker
from tests.helpers.crm import CrmWebhook
from tests.helpers.journeys import (
    TOKYO,
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    hand_off,
    make_lead,
    near,
    next_run,
    rows,
    sends,
    short_history_journey,
    started,
    state,
    utc,
)
from tests.helpers.scenarios import scenario_copy


async def test_cold_journey_sends_monthly_inside_the_send_window(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    start = await advance_to_weekday_noon_tokyo(env, 2)  # a Wednesday, 12:00 JST
    lead = make_lead(store)
    outcome = await start_journey(client, settings, store, lead, "acme")
    assert outcome.started

    await env.sleep(timedelta(days=181))  # six months

    sent = sends(store)
    day = timedelta(days=1)
    # 30-day cadence on weekdays 9-18 JST: a Sunday due date waits for Monday 09:00.
    t0 = start
    t1 = t0 + 30 * day  # Friday 12:00
    t2 = (t1 + 31 * day).replace(hour=9)  # Sunday → Monday 09:00
    t3 = t2 + 30 * day  # Wednesday 09:00
    t4 = t3 + 30 * day  # Friday 09:00
    t5 = t4 + 31 * day  # Sunday → Monday 09:00
    expected = [t0, t1, t2, t3, t4, t5]
    assert [s.send_key for s in sent] == [
        "cold#1/welcome",
        "cold#1/guide",
        "cold#1/benchmark",
        "cold#1/checklist",
        "cold#1/story",
        "cold#1/trends",
    ]
    assert all(near(s.journey_time, t) for s, t in zip(sent, expected, strict=True)), [
        utc(s.journey_time).astimezone(TOKYO) for s in sent
    ]
    for s in sent:
        local = utc(s.journey_time).astimezone(TOKYO)
        assert local.weekday() < 5 and 9 <= local.hour < 18
    assert all(s.status == "sent" for s in sent)
    eml = list((settings.outbox_dir / "acme").glob("*.eml"))
    assert len(eml) == 6

    st = await state(client.get_workflow_handle(outcome.journey_id))
    assert st.emails_sent == 6 and st.lifecycle == "nurturing" and st.stage == "cold"
    assert st.step_key == "roundup"
    assert st.next_touch_at is not None and near(st.next_touch_at, t5 + 30 * day)


# ---- behaviour ---------------------------------------------------------------------------


async def test_three_product_visits_and_pricing_make_the_lead_hot_and_hand_it_off_once(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
    worker: Worker,
) -> None:
    handle = await started(env, client, settings, store)
    for _ in range(3):
        await behave(env, handle, "product_page", url="https://acme.example/product")
    st = await eventually(handle, lambda s: s.stage == "warm")
    assert st.lifecycle == "nurturing" and st.track == "warm"  # branch rule: stage warm → warm

    await behave(env, handle, "pricing_page", url="https://acme.example/pricing")
    st = await eventually(handle, lambda s: s.lifecycle == "handed_off")
    assert st.stage == "hot" and st.score.total >= 50
    rules = {r.rule: r.points for r in st.score.rules}
    assert rules["product page 3+ times in 14 days"] == 15 and rules["pricing_page"] == 15

    # More buying signals while sales owns the lead: no second hand-off, no nurture email.
    hot_score = st.score.total
    sent_before = st.emails_sent
    await behave(env, handle, "pricing_page")
    await behave(env, handle, "webinar_attended")
    await env.sleep(timedelta(days=60))
    st = await state(handle)
    assert st.lifecycle == "handed_off" and st.emails_sent == sent_before
    handoffs = rows(store, Handoff)
    assert len(handoffs) == 1 and handoffs[0].score == hot_score
    assert [t.to_lifecycle for t in sorted(rows(store, Transition), key=lambda t: t.seq)] == [
        "nurturing",
        "mql",
        "handed_off",
    ]
    # Its stage moves are in the store for the funnel report, with the track of each; the
    # 60 quiet days let its score decay back to warm.
    moves = sorted(rows(store, StageChange), key=lambda m: m.seq)
    assert [(m.from_stage, m.to_stage, m.track) for m in moves] == [
        (None, "cold", "cold"),
        ("cold", "warm", "cold"),
        ("warm", "hot", "warm"),
        ("hot", "warm", "warm"),
    ]
    assert moves[2].score == hot_score

    assert len(crm.calls) == 1
    body, headers = crm.calls[0]
    assert headers[SIGNATURE_HEADER] == sign_body(body, "crm-secret")
    payload = json.loads(body)
    assert payload["lead"]["email"] == "aiko@example.com"
    assert any("pricing_page" in m for m in payload["moments"])
    assert payload["journey_url"].endswith(f"/workflows/{handle.id}")


async def test_unsubscribe_stops_every_email_at_once(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await handle.signal("unsubscribe", Unsubscribe(reason="one-click"))
    await behave(env, handle, "document_download")  # would fire a trigger email
    await env.sleep(timedelta(days=120))
    result = await handle.result()
    assert result.lifecycle == "unsubscribed" and result.emails_sent == 1
    assert [(r.send_key, r.status) for r in sends(store)] == [("cold#1/welcome", "sent")]


async def test_newsletter_opt_out_keeps_step_emails(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store, industry="retail", company_size=10)
    await handle.signal("unsubscribe", Unsubscribe(mail_types=["trigger"]))
    await eventually(handle, lambda s: s.suppressed_mail_types == ["trigger"])
    await behave(env, handle, "document_download")
    await env.sleep(timedelta(days=31))
    st = await state(handle)
    assert st.lifecycle == "nurturing"
    assert [s.send_key for s in sends(store)] == ["cold#1/welcome", "cold#1/guide"]


async def test_duplicate_events_change_nothing(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    for _ in range(3):
        await behave(env, handle, "document_download", event_id="dl-1")
    st = await eventually(handle, lambda s: s.emails_sent == 2)
    await behave(env, handle, "page_view", event_id="pv-1")
    st = await eventually(handle, lambda s: any(e.text.startswith("page_view") for e in s.timeline))
    assert sum(e.text.startswith("document_download") for e in st.timeline) == 1
    assert {r.rule: r.points for r in st.score.rules}["document_download"] == 10
    assert st.emails_sent == 2  # welcome + one trigger email, not three
    assert [s.send_key for s in sends(store)] == ["cold#1/welcome", "trigger:download-followup#1"]


async def test_trigger_email_respects_its_cooldown(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store, industry="retail", company_size=10)
    await behave(env, handle, "document_download")
    await eventually(handle, lambda s: s.emails_sent == 2)
    await env.sleep(timedelta(days=2))
    await behave(env, handle, "document_download")  # within the 7-day cool-down
    await env.sleep(timedelta(days=6))
    await behave(env, handle, "document_download")  # 8 days after the first
    await eventually(handle, lambda s: s.emails_sent == 3)
    keys = [s.send_key for s in sends(store) if s.send_key.startswith("trigger")]
    assert keys == ["trigger:download-followup#1", "trigger:download-followup#2"]


async def test_sales_rejection_recycles_the_lead_into_nurturing(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await give_feedback(client, "acme", handle.id.split(":")[-1], SalesFeedback(outcome="won"))
    assert "'won' applies only to leads that are" in str(refused.value.cause)

    st = await give_feedback(
        client,
        "acme",
        handle.id.split(":")[-1],
        SalesFeedback(outcome="rejected", reason="no budget", by="kato"),
    )
    assert st.lifecycle == "recycled" and st.track == "cold" and st.stage == "cold"
    assert st.score.behavior == 0 and st.score.fit == 15
    sent = st.emails_sent
    await env.sleep(timedelta(days=29))
    assert (await state(handle)).emails_sent == sent  # cold cadence: a month from recycling
    await env.sleep(timedelta(days=5))
    st = await state(handle)
    assert st.emails_sent == sent + 1  # back on cold, resuming after the steps it had
    assert sends(store)[-1].send_key == "cold#3/guide"
    transitions = sorted(rows(store, Transition), key=lambda t: t.seq)
    assert [(t.to_lifecycle, t.actor) for t in transitions][-1] == ("recycled", "kato")
    assert transitions[-1].reason == "rejected: no budget"
    last_move = max(rows(store, StageChange), key=lambda m: m.seq)
    assert (last_move.from_stage, last_move.to_stage, last_move.track) == ("hot", "cold", "cold")


async def test_won_closes_the_journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    lead_id = handle.id.split(":")[-1]
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="accepted"))
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="opportunity"))
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="won", reason="signed"))
    result = await handle.result()
    assert result.lifecycle == "customer" and "signed" in result.reason


async def test_exit_rule_and_bounce_end_the_journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    buyer = await started(env, client, settings, store)
    await behave(env, buyer, "purchase")
    assert (await buyer.result()).reason == "exit rule: event purchase"

    bounced = await started(env, client, settings, store, email="bounce@example.com")
    await behave(env, bounced, "email_bounce")
    result = await bounced.result()
    assert result.lifecycle == "bounced" and result.emails_sent == 1


async def test_pause_holds_email_until_resume(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await handle.signal("pause")
    await eventually(handle, lambda s: s.paused)
    await env.sleep(timedelta(days=45))
    assert (await state(handle)).emails_sent == 1
    await handle.signal("resume")
    await eventually(handle, lambda s: not s.paused)
    await env.sleep(timedelta(days=3))  # resumed on a Saturday: it goes out on Monday
    st = await state(handle)
    assert st.emails_sent == 2
    local = utc(sends(store)[-1].journey_time).astimezone(TOKYO)
    assert local.weekday() == 0 and local.hour == 9


async def test_starting_twice_is_a_no_op_that_says_so(
    client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    lead = make_lead(store)
    first = await start_journey(client, settings, store, lead, "acme")
    again = await start_journey(client, settings, store, lead, "acme")
    assert first.started and not again.started
    assert "already exists" in again.message


async def test_continue_as_new_carries_everything(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await short_history_journey(env, client, settings, store)
    first_run = handle.result_run_id
    latest = client.get_workflow_handle(handle.id)  # `handle` is the run it started
    # Every signal is a history event however the worker batches them into tasks: with the
    # 18 events before, 86 pass the 100-event limit even when all land in one task (the
    # worker's cache off, every activation a replay).
    for i in range(85):
        await behave(env, latest, "page_view", event_id=f"pv-{i}")
    await behave(env, latest, "document_download", event_id="dl-1")
    await next_run(latest, first_run)
    before = await eventually(latest, lambda s: s.emails_sent == 2)

    # A repeat of an event seen in an earlier run is still a repeat.
    await behave(env, latest, "document_download", event_id="dl-1")
    await behave(env, latest, "page_view", event_id="pv-0")
    await env.sleep(timedelta(hours=1))
    after = await state(latest)
    assert after.emails_sent == before.emails_sent == 2
    assert after.score == before.score
    assert after.timeline[0].kind == before.timeline[0].kind
    assert after.track == before.track and after.step_index == before.step_index
    await env.sleep(timedelta(days=30))
    assert (await state(latest)).emails_sent == 3  # the cadence continues across runs


async def test_another_products_behaviour_does_not_score_here(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    other = BehaviorEvent(
        event_id="x-1",
        type="pricing_page",
        product="other",
        occurred_at=await env.get_current_time(),
    )
    await handle.signal("behavior", other)
    await behave(env, handle, "page_view")
    st = await eventually(handle, lambda s: s.score.behavior == 1)
    assert any("ignored pricing_page: it concerns 'other'" in e.text for e in st.timeline)
    assert "pricing_page" not in {r.rule for r in st.score.rules}


async def test_a_lead_warm_by_fit_alone_starts_on_the_warm_track(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old="warm: 25", new="warm: 15")  # fit 15 alone is warm
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        outcome = await start_journey(client, settings, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await env.sleep(timedelta(days=1, hours=1))
        st = await state(handle)
    assert st.stage == "warm" and st.track == "warm"
    assert [s.send_key for s in sends(store)] == ["warm#2/case-study"]


async def test_weekly_cap_across_two_products_defers_a_step_and_the_journey_sleeps(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    for product in ("acme", "acme2"):
        scenario_copy(settings, tmp_path, product=product)
    settings.frequency_cap_per_week = 2
    await advance_to_weekday_noon_tokyo(env, 2)
    lead = make_lead(store)
    async with build_worker(client, settings, store):
        first = await start_journey(client, settings, store, lead, "acme")
        await start_journey(client, settings, store, lead, "acme2")
        handle = client.get_workflow_handle(first.journey_id)
        await env.sleep(timedelta(hours=1))  # both welcomes are out: the cap (2) is full
        await behave(env, handle, "document_download")  # warm: case study due in 1 day
        await env.sleep(timedelta(days=10))
        st = await state(handle)
        history = await handle.fetch_history()

    rows = sends(store)
    by_key = {(r.product, r.send_key): r for r in rows}
    assert by_key[("acme", "trigger:download-followup#1")].status == "suppressed"
    case_study = by_key[("acme", "warm#2/case-study")]
    assert case_study.status == "sent"
    # The cap (2 in 7 days) frees when the earlier of the two welcomes leaves the window;
    # the two go out a few seconds apart when the worker replays every activation.
    first_out = min(utc(by_key[(p, "cold#1/welcome")].journey_time) for p in ("acme", "acme2"))
    assert utc(case_study.journey_time) >= first_out + timedelta(days=7)  # deferred, not dropped
    sent_times = sorted(utc(r.journey_time) for r in rows if r.status == "sent")
    for i, moment in enumerate(sent_times):
        in_week = [t for t in sent_times[i:] if t < moment + timedelta(days=7)]
        assert len(in_week) <= 2
    assert any("frequency cap" in e.text and "deferred" in e.text for e in st.timeline)
    timers = [
        e.user_metadata.summary.data.decode()
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    assert any("deferred by the weekly frequency cap" in t for t in timers), timers


async def test_emails_render_from_the_pinned_version_whatever_the_files_say_later(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        outcome = await start_journey(client, settings, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await eventually(handle, lambda s: s.emails_sent == 1)
        note = tmp_path / "acme" / "templates" / "note.html"
        note.write_text(note.read_text().replace("Hello", "EDITED"))
        note.rename(note.with_name("renamed.html"))  # the file the journey uses is gone
        await env.sleep(timedelta(days=31))
        st = await state(handle)
    assert st.emails_sent == 2
    second = sends(store)[-1]
    eml = (settings.outbox_dir / "acme" / f"{second.id}.eml").read_text()
    assert "Hello" in eml and "EDITED" not in eml


async def test_a_suppressed_lead_gets_no_new_journey(
    client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    lead = make_lead(store)
    with store.session() as session:
        send_gate.suppress(
            session,
            email=lead.email,
            lead_id=lead.id,
            scope="product",
            product="acme",
            reason="unsubscribed 2025",
        )
    outcome = await start_journey(client, settings, store, lead, "acme")
    assert not outcome.started
    assert outcome.message == "not started: suppressed (acme email): unsubscribed 2025"


async def test_behaviour_that_leaves_the_next_step_alone_keeps_its_timer(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    """Between steps a journey waits on one timer; events that do not move its next wake-up
    cost no timer commands (patch keep-step-timer), and the step still goes out on time."""
    handle = await started(env, client, settings, store)
    for n in range(1, 4):
        await behave(env, handle, "page_view", event_id=f"pv-{n}")
        await eventually(handle, scored(n))
    history = await handle.fetch_history()
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    assert kinds["EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"] == 3
    assert kinds["EVENT_TYPE_TIMER_CANCELED"] == 0, kinds
    await env.sleep(timedelta(days=31))
    assert [s.send_key for s in sends(store)] == ["cold#1/welcome", "cold#1/guide"]


def scored(points: int) -> Callable[[JourneyState], bool]:
    """A check that the journey's behaviour score has reached `points`."""
    return lambda state: state.score.behavior == points
