"""The scoring suggestion where people meet it: `nurture suggest scoring` (tables, --json,
--write a patch that `git apply` takes and that keeps the file's comments), `GET
/v1/reports/scoring`, and the dashboard's product page."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from nurture.api.auth import create_api_key
from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.store.engine import Store
from tests.helpers.api import Api, sign_in
from tests.helpers.commands import nurture
from tests.helpers.handoffs import Writer
from tests.helpers.paths import SCENARIOS
from tests.helpers.scoring_outcomes import START, generate, write

UNTIL = START + timedelta(days=181)
PERIOD = ["--since", "2026-01-01", "--until", "2026-07-01"]


@pytest.fixture
def acme() -> Scenario:
    return load_scenario_dir(SCENARIOS / "acme", check_templates=False)


def stored(store: Store, scenario: Scenario, count: int) -> None:
    writer = Writer()
    write(writer, scenario, generate(scenario, count, seed=1))
    writer.save(store)


def suggest(tmp_path: Path, store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return nurture(
        tmp_path,
        "suggest",
        "scoring",
        *args,
        NURTURE_DATABASE_URL=str(store.engine.url),
        NURTURE_SCENARIOS_DIR=str(tmp_path / "scenarios"),
        COLUMNS="200",
    )


def test_the_command_prints_writes_a_patch_and_git_applies_it(
    tmp_path: Path, store: Store, acme: Scenario
) -> None:
    folder = tmp_path / "scenarios" / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    before = (folder / "scenario.yaml").read_text()
    stored(store, acme, 3000)

    shown = suggest(tmp_path, store, "acme", *PERIOD, "--write", "scoring.patch")
    assert shown.returncode == 0, shown.stderr + shown.stdout
    webinar = next(line for line in shown.stdout.splitlines() if "webinar_attended" in line)
    assert "signal" in webinar and "20" in webinar
    assert "no signal → 0" in shown.stdout and "too rare to judge: left as is" in shown.stdout
    assert "suggested model: AUC" in shown.stdout and "current rules: AUC" in shown.stdout
    assert "selection_bias: only handed-off leads have outcomes" in shown.stdout
    assert "patch written to scoring.patch" in shown.stderr

    as_json = json.loads(suggest(tmp_path, store, "acme", *PERIOD, "--json").stdout)
    suggested = {r["rule"]: r for r in as_json["rules"]}
    patch = (tmp_path / "scoring.patch").read_text()
    assert patch.startswith("# nurture suggest scoring acme")
    assert "--- a/scenarios/acme/scenario.yaml" in patch
    changed = [line for line in patch.splitlines() if line.startswith("+") and "+++" not in line]
    assert all("points" in line or "daily_cap" in line or "score_at_least" in line
               for line in changed), changed  # fmt: skip

    applied = subprocess.run(
        ["git", "apply", "scoring.patch"], cwd=tmp_path, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    after = (folder / "scenario.yaml").read_text()
    assert after.splitlines()[0] == before.splitlines()[0]  # the comments stay
    patched = load_scenario_dir(folder, check_templates=False)  # and it still loads
    assert patched.scoring.events["document_download"].points == 0
    webinar_points = suggested["event:webinar_attended"]["suggested_points"]
    assert patched.scoring.events["webinar_attended"].points == webinar_points
    assert patched.fit[0].points == suggested["fit:target industry"]["suggested_points"]
    pricing = suggested["event:pricing_page"]
    assert patched.scoring.events["pricing_page"].daily_cap == pricing["suggested_daily_cap"]
    assert patched.handoff_threshold == as_json["threshold"]["recommended_threshold"]
    assert patched.stages == acme.stages  # stages are the marketer's, not the model's


def test_the_command_refuses_too_little_data_and_unknown_products(
    tmp_path: Path, store: Store, acme: Scenario
) -> None:
    shutil.copytree(SCENARIOS / "acme", tmp_path / "scenarios" / "acme")
    stored(store, acme, 80)
    refused = suggest(tmp_path, store, "acme", *PERIOD, "--write", "scoring.patch")
    assert refused.returncode == 1
    assert "too little data to suggest anything" in refused.stdout
    assert "more decided hand-off(s)" in refused.stdout
    assert not (tmp_path / "scoring.patch").exists()
    unknown = suggest(tmp_path, store, "acne")
    assert unknown.returncode == 2 and "no scenario for product 'acne'" in unknown.stderr
    assert "known products: acme" in unknown.stderr


async def test_the_api_and_the_dashboard_show_it(api: Api, store: Store, acme: Scenario) -> None:
    stored(store, acme, 3000)
    period = {"product": "acme", "since": "2026-01-01T00:00:00Z", "until": "2026-07-01T00:00:00Z"}
    answer = await api.http.get("/v1/reports/scoring", params=period, headers=api.admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "suggested" and body["decided"] > 1000
    rules = {r["rule"]: r for r in body["rules"]}
    assert rules["event:careers_page"]["suggested_points"] < 0
    assert rules["event:document_download"]["verdict"] == "no_signal"

    assert (
        await api.http.get("/v1/reports/scoring", params=period, headers=api.read)
    ).status_code == 403
    unknown = await api.http.get(
        "/v1/reports/scoring", params={"product": "acne"}, headers=api.admin
    )
    assert unknown.status_code == 404 and "no scenario for product 'acne'" in unknown.text

    await sign_in(api.http, create_api_key(store, "boss", ["admin"]))
    page = (await api.http.get("/dashboard/products/acme")).text
    section = page[page.index('id="scoring"') : page.index('id="leads"')]
    assert "Scoring learnt from outcomes" in section
    assert "event: webinar_attended" in section and "no_signal" in section
    assert "nurture suggest scoring acme --write scoring.patch" in section
    japanese = await api.http.get("/dashboard/products/acme", params={"lang": "ja"})
    assert "成果から学んだスコアリング" in japanese.text
