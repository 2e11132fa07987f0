"""`nurture segment` and `nurture broadcast` as a marketer runs them: counts and exports
from the store, a broken segments file named by line, a draft refused with the fix."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from nurture.store.engine import LeadIn, Store
from tests.helpers.commands import nurture
from tests.helpers.paths import CONSENT, SCENARIOS


def setup(tmp_path: Path, segments: str) -> dict[str, str]:
    shutil.copytree(SCENARIOS / "acme", tmp_path / "scenarios" / "acme")
    (tmp_path / "scenarios" / "segments.yaml").write_text(segments, encoding="utf-8")
    url = f"sqlite:///{tmp_path}/nurture.db"
    store = Store(url)
    store.upgrade()
    for i, industry in enumerate(["saas", "SaaS", "retail"]):
        store.upsert_lead(
            LeadIn(email=f"l{i}@example.com", first_name=f"L{i}", industry=industry,
                   consent=CONSENT)
        )  # fmt: skip
    store.engine.dispose()
    return {"NURTURE_DATABASE_URL": url, "NURTURE_SCENARIOS_DIR": str(tmp_path / "scenarios")}


def test_count_list_and_export_answer_from_the_store(tmp_path: Path) -> None:
    env = setup(tmp_path, "segments:\n  saas:\n    lead: {industry: [saas]}\n")
    counted = nurture(tmp_path, "segment", "count", "saas", **env)
    assert counted.returncode == 0 and counted.stdout.strip() == "2", counted.stderr
    listed = nurture(tmp_path, "segment", "list", "saas", **env).stdout.split()
    assert len(listed) == 2 and all(i.startswith("ld_") for i in listed)
    exported = nurture(tmp_path, "segment", "export", "saas", **env)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(r["email"] for r in rows) == ["l0@example.com", "l1@example.com"]
    assert "2 leads exported" in exported.stderr
    unknown = nurture(tmp_path, "segment", "count", "nope", **env)
    assert unknown.returncode == 1 and "no segment 'nope' (known: saas)" in unknown.stderr


def test_a_broken_file_is_named_by_line(tmp_path: Path) -> None:
    env = setup(tmp_path, "segments:\n  warm:\n    stage: [warm]\n")
    checked = nurture(tmp_path, "segment", "check", **env)
    assert checked.returncode == 1
    assert "segments.yaml:3: segments.warm.stage: stage is the lead's journey's" in checked.stderr


def test_a_broadcast_draft_is_checked_and_refused_with_the_fix(tmp_path: Path) -> None:
    env = setup(tmp_path, "segments:\n  saas:\n    lead: {industry: [saas]}\n")
    base = ["broadcast", "create", "b1", "--product", "acme", "--segment", "saas"]
    missing = nurture(tmp_path, *base, "--subject", "Hi", "--template", "nope", **env)
    assert missing.returncode == 1 and "no template 'nope'" in missing.stderr
    no_zone = nurture(tmp_path, *base, "--subject", "Hi", "--template", "note",
                      "--at", "2027-01-12T10:00", **env)  # fmt: skip
    assert no_zone.returncode == 1 and "needs its zone" in no_zone.stderr
    made = nurture(tmp_path, *base, "--subject", "Hi {{ lead.first_name }}", "--subject",
                   "Hello", "--template", "note", **env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "2 variant(s) to segment 'saas', 2 leads now" in made.stdout
    shown = nurture(tmp_path, "broadcast", "preview", "b1", **env)
    assert "variant A: Hi " in shown.stdout and "variant B: Hello" in shown.stdout
