"""Personas: the built-in ones, and files a marketer writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.simulation.personas import BUILT_IN, PersonaError, built_in, load_personas

FILE = """
personas:
  - name: pricing watcher
    attributes: {role: manager, industry: saas, company_size: 400, source: website}
    script:
      - "day 3: page /pricing"
      - "day 10: document_download"
      - {day: 12, event: webinar_attended, properties: {webinar: roi}}
      - "day 40: unsubscribe"
    weekly: {product_page: 0.5, "page /blog": 0.2}
    emails: {open: 0.8, click: 0.25}
    feedback: [{days_after_handoff: 3, outcome: accepted}]
    weight: 3
"""


def test_a_persona_file_reads_script_lines_and_mappings(tmp_path: Path) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(FILE)
    [persona] = load_personas(path)
    assert [(a.day, a.event, a.url) for a in persona.script] == [
        (3, "page", "/pricing"),
        (10, "document_download", None),
        (12, "webinar_attended", None),
        (40, "unsubscribe", None),
    ]
    assert persona.script[2].properties == {"webinar": "roi"}
    assert persona.weekly == {"product_page": 0.5, "page /blog": 0.2}
    assert (persona.emails.open, persona.weight) == (0.8, 3)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("personas:\n  - name: x\n    script: ['on day 3 page']\n", "write 'day N: EVENT'"),
        ("personas:\n  - name: x\n    script: ['day 3: Pricing Page']\n", "neither 'page'"),
        ("personas:\n  - name: x\n    weekly: {product_page: 2}\n", "between 0 and 1"),
        ("personas:\n  - name: x\n    emails: {opens: 1}\n", "emails.opens: Extra inputs"),
        ("personas: []\n", "at least 1 item"),
        ("personas: [\n", "while parsing"),
    ],
)
def test_a_broken_persona_file_says_where_and_what(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(text)
    with pytest.raises(PersonaError) as err:
        load_personas(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_the_built_in_personas_are_the_ones_the_docs_name() -> None:
    names = [p.name for p in BUILT_IN]
    assert names == [
        "silent",
        "opener",
        "clicker",
        "evaluator",
        "downloader",
        "seminar attendee",
        "buyer",
        "unsubscriber",
        "bouncer",
    ]
    assert [p.name for p in built_in(["buyer"])] == ["buyer"]
    with pytest.raises(PersonaError, match="no built-in persona"):
        built_in(["ghost"])


def test_a_persona_may_carry_the_custom_attributes_its_scenario_declares() -> None:
    from nurture.scenario.loader import load_scenario
    from nurture.simulation.personas import Persona
    from nurture.simulation.run import _lead_fields
    from tests.helpers.paths import REPO

    cloudbook = load_scenario(REPO / "scenarios", "cloudbook")
    persona = Persona(name="switcher", attributes={"role": "manager", "current_tool": "Excel"})
    assert _lead_fields(cloudbook, persona) == {
        "first_name": "Switcher", "role": "manager", "attributes": {"current_tool": "excel"},
    }  # fmt: skip
    wrong = Persona(name="odd", attributes={"current_tool": "abacus"})
    with pytest.raises(ValueError, match=r"persona 'odd': attributes\.current_tool: takes one of"):
        _lead_fields(cloudbook, wrong)
