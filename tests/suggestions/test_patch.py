"""The scenario patch: the suggested values put in place in the file's own text, nothing
else touched (comments, Japanese, flow style, line endings), or a clear refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from nurture.handoff.calibration import Calibration
from nurture.suggestions.patch import PatchError, patched_text
from nurture.suggestions.scoring_suggestion import (
    RuleSuggestion,
    ScoringSuggestion,
    ThresholdSuggestion,
)
from tests.helpers.paths import REPO

CLOUDBOOK = (REPO / "scenarios" / "cloudbook" / "scenario.yaml").read_text(encoding="utf-8")


def rule(key: str, kind: str, name: str, now: int, new: int, **extra: object) -> RuleSuggestion:
    return RuleSuggestion.model_validate(
        {"rule": key, "kind": kind, "name": name, "current_points": now,
         "suggested_points": new, "verdict": "signal", "odds_ratio": None,
         "odds_ratio_low": None, "odds_ratio_high": None, "fired_in": 50, **extra}
    )  # fmt: skip


def suggestion(rules: list[RuleSuggestion], threshold: int | None = None) -> ScoringSuggestion:
    calibration = Calibration(
        status="recommended", recommended_threshold=threshold, message="", min_decided=20,
        lowest_judged_score=None, rows=[],
    )  # fmt: skip
    return ScoringSuggestion(
        product="cloudbook", since=None, until=datetime(2026, 7, 1, tzinfo=UTC),
        status="suggested", message="", decided=200, won=60, open=0, erased=0, needed=100,
        needed_each=20, rules=rules,
        threshold=ThresholdSuggestion(
            current_threshold=90, recommended_threshold=threshold, per_week_now=1,
            per_week_suggested=1, change_per_week=0, never_judged=0, median_score_now=1,
            median_score_suggested=1, message="", calibration=calibration,
        ),
    )  # fmt: skip


def test_points_caps_and_threshold_in_a_commented_japanese_file() -> None:
    pricing = rule("event:pricing_page", "event", "pricing_page", 15, 20,
                   daily_cap=15, suggested_daily_cap=20)  # fmt: skip
    fit = rule("fit:経理・財務・管理部門", "fit", "経理・財務・管理部門", 10, 14)
    after = patched_text(CLOUDBOOK, suggestion([pricing, fit], threshold=75))
    changed = [
        (old, new)
        for old, new in zip(CLOUDBOOK.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert [new for _, new in changed] == [
        "    points: 14",
        "    pricing_page:           {points: 20, daily_cap: 20}   # 料金ページ",
        "  score_at_least: 75",
    ]
    data = yaml.safe_load(after)
    assert data["scoring"]["events"]["pricing_page"] == {"points": 20, "daily_cap": 20}


def test_a_second_rule_of_the_same_name_an_empty_value_and_windows_line_endings() -> None:
    text = (
        "fit:\r\n  - name: big\r\n    field: company_size\r\n    between: [100, 999]\r\n"
        "    points: 5\r\n  - name: big\r\n    field: company_size\r\n"
        "    between: [1000, 99999]\r\n    points:\r\nhandoff:\r\n  recycle: {track: cold}\r\n"
    )
    second = rule("fit:big#2", "fit", "big", 0, 8)
    after = patched_text(text, suggestion([second], threshold=40))
    assert "    points: 5\r\n" in after and "    points: 8\r\n" in after
    assert "handoff:\r\n  score_at_least: 40\r\n  recycle" in after


def test_aliases_are_refused() -> None:
    text = "fit:\n  - name: a\n    field: role\n    in: [manager]\n    points: &p 5\n"
    text += "  - name: b\n    field: region\n    in: [kanto]\n    points: *p\n"
    with pytest.raises(PatchError, match="aliases"):
        patched_text(text, suggestion([rule("fit:a", "fit", "a", 5, 9)]))
