"""Segment files and API definitions: what a marketer gets wrong is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.segments.definitions import SegmentError, load_segment_file, parse_segment
from nurture.segments.membership import known_to
from tests.helpers.paths import REPO

SCENARIOS = REPO / "scenarios"


def _problems(tmp_path: Path, text: str) -> list[str]:
    root = tmp_path / "scenarios"
    root.mkdir()
    (root / "cloudbook").symlink_to(SCENARIOS / "cloudbook", target_is_directory=True)
    (root / "segments.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SegmentError) as raised:
        load_segment_file(root, known_to(root))
    return [str(p).replace(str(root), "ROOT") for p in raised.value.problems]


def test_the_shipped_segments_load() -> None:
    found = load_segment_file(SCENARIOS, known_to(SCENARIOS))
    assert "cloudbook-seminar-invite" in found
    assert found["cloudbook-engaged"].in_segment == "cloudbook-seminar-invite"


def test_problems_name_the_file_line_and_fix(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "segments:\n"
        "  warm:\n"
        "    stage: [warm]\n"  # line 3: no product
        "  bad-attr:\n"
        "    product: cloudbook\n"
        "    lead: {plan: pro}\n"  # line 6: undeclared attribute
        "  wrong-product:\n"
        "    product: nosuch\n"  # line 8
        "  typo:\n"
        "    product: cloudbook\n"
        "    stages: [warm]\n",  # line 11: unknown key
    )
    assert any(
        p.startswith("ROOT/segments.yaml:11: segments.typo.stages: unknown key") for p in problems
    ), problems
    assert "allowed keys here: stage, lifecycle" in " ".join(problems)


def test_reference_problems_name_their_lines(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "segments:\n"
        "  warm:\n"
        "    stage: [warm]\n"
        "  bad-attr:\n"
        "    product: cloudbook\n"
        "    lead: {plan: pro}\n"
        "  wrong-product:\n"
        "    product: nosuch\n"
        "  dangling:\n"
        "    in_segment: nothing\n",
    )
    said = "\n".join(problems)
    assert (
        "segments.yaml:3: segments.warm.stage: stage is the lead's journey's: "
        "name the segment's product" in said
    )
    assert "segments.yaml:6: segments.bad-attr.lead.plan: unknown field 'plan'" in said
    assert "current_tool" in said  # the declared attributes are listed
    assert (
        "segments.yaml:8: segments.wrong-product.product: no scenario for product 'nosuch'" in said
    )
    assert "segments.yaml:10: segments.dangling.in_segment: no segment 'nothing'" in said


def test_segments_naming_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "segments:\n  a:\n    in_segment: b\n  b:\n    any:\n      - in_segment: a\n",
    )
    assert any("a → b → a" in p for p in problems), problems


def test_an_api_definition_is_checked_the_same_way() -> None:
    known = known_to(SCENARIOS)
    with pytest.raises(ValueError, match="stage is the lead's journey's"):
        parse_segment("x", {"stage": ["warm"]}, known, {})
    with pytest.raises(ValueError, match=r"stage\.0: Input should be 'cold', 'warm' or 'hot'"):
        parse_segment("x", {"product": "cloudbook", "stage": ["tepid"]}, known, {})
    segment = parse_segment(
        "x", {"product": "cloudbook", "lead": {"budget_approved": True}}, known, {}
    )
    assert segment.definition() == {"product": "cloudbook", "lead": {"budget_approved": True},
                                    "description": ""}  # fmt: skip
