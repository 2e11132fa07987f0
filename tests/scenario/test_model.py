"""Scenario validation: errors name the file, the line, what is wrong and what is expected."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nurture.cli.app import app
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from tests.helpers.paths import REPO, SCENARIOS

ACME = SCENARIOS / "acme"


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    shutil.copytree(ACME, folder)
    return folder


def edit(folder: Path, old: str, new: str, file: str = "scenario.yaml") -> None:
    path = folder / file if file == "scenario.yaml" else folder / "templates" / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def problems(folder: Path) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    return [str(p) for p in err.value.problems]


def line_of(folder: Path, needle: str) -> int:
    lines = (folder / "scenario.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_shipped_scenarios_are_valid() -> None:
    result = CliRunner().invoke(app, ["validate", str(REPO / "scenarios")])
    assert result.exit_code == 0, result.output
    assert "✓ cloudbook" in result.output and "✓ smartfactory" in result.output


def test_unknown_key_is_an_error_with_its_line_and_the_allowed_keys(acme: Path) -> None:
    edit(acme, "    then: listen", "    then: listen\n    cadense: monthly")
    [problem] = problems(acme)
    assert f"scenario.yaml:{line_of(acme, 'cadense')}: tracks.cold.cadense" in problem
    assert (
        "unknown key 'cadense'" in problem
        and "allowed keys here: description, steps, then" in problem
    )


def test_bad_duration_says_how_to_write_one(acme: Path) -> None:
    edit(acme, "half_life: 60d", "half_life: 60 days")
    [problem] = problems(acme)
    assert (
        f":{line_of(acme, 'half_life')}: scoring.half_life: invalid duration '60 days'" in problem
    )
    assert "'7d'" in problem


def test_unknown_track_reference_lists_the_known_ones(acme: Path) -> None:
    edit(
        acme,
        "    to: warm\n  - when: {event: webinar_attended}",
        "    to: hot-track\n  - when: {event: webinar_attended}",
    )
    [problem] = problems(acme)
    assert f":{line_of(acme, 'hot-track')}: branches[0].to: unknown track 'hot-track'" in problem
    assert "expected one of: cold, warm" in problem


def test_duplicate_yaml_key_is_an_error_not_an_override(acme: Path) -> None:
    edit(acme, "  warm: 25\n", "  warm: 25\n  warm: 30\n")
    assert any("key 'warm' appears twice" in p for p in problems(acme))


def test_missing_template_names_the_file_to_create(acme: Path) -> None:
    edit(acme, "template: note, subject: Case study", "template: case-study, subject: Case study")
    [problem] = problems(acme)
    assert "template 'case-study' not found" in problem and "case-study.html" in problem


def test_undefined_variable_is_caught_before_any_send(acme: Path) -> None:
    edit(acme, "Hello {{ lead.first_name", "Hello {{ lead.nickname", file="note.html")
    [problem] = problems(acme)
    assert "note.html" in problem and "nickname" in problem


def test_template_syntax_error_names_the_template_line(acme: Path) -> None:
    edit(acme, "{% endif %}", "{% endiff %}", file="note.html")
    [problem] = problems(acme)
    assert "note.html:" in problem and "syntax error" in problem


def test_email_without_unsubscribe_link_is_refused(acme: Path) -> None:
    edit(acme, '<a href="{{ unsubscribe_url }}">Unsubscribe</a>', "", file="layout.html")
    [problem] = problems(acme)
    assert "unsubscribe link" in problem and "law" in problem


def test_validate_command_exits_1_and_prints_each_problem(acme: Path) -> None:
    edit(acme, "hot: 50", "hot: 20")
    result = CliRunner().invoke(app, ["validate", str(acme.parent)])
    assert result.exit_code == 1
    assert "warm (25) must be below hot (20)" in result.output


def test_a_country_adds_its_public_holidays_to_the_send_window(acme: Path) -> None:
    extra = "  country_holidays: JP\n  holidays: [2026-12-29]\n  quiet_hours: [[12, 13]]\n"
    weekdays = "  weekdays: [mon, tue, wed, thu, fri]\n"
    edit(acme, weekdays, weekdays + extra)
    window = load_scenario_dir(acme).send_window
    assert window is not None
    next_year = date.today().year + 1
    assert date(next_year, 1, 1) in window.holidays  # 元日, resolved for the years ahead
    assert date(2026, 12, 29) in window.holidays  # the company's own days stay
    assert date(2026, 11, 23) in window.holidays  # 勤労感謝の日
    assert window.quiet_hours == [(12, 13)]


def test_an_unknown_country_is_an_error_that_names_the_fix(acme: Path) -> None:
    edit(
        acme,
        "  weekdays: [mon, tue, wed, thu, fri]\n",
        "  weekdays: [mon, tue, wed, thu, fri]\n  country_holidays: Japan\n",
    )
    [problem] = problems(acme)
    assert f":{line_of(acme, 'country_holidays')}: send_window.country_holidays" in problem
    assert "ISO 3166" in problem


def test_quiet_hours_must_be_hour_ranges(acme: Path) -> None:
    edit(
        acme,
        "  weekdays: [mon, tue, wed, thu, fri]\n",
        "  weekdays: [mon, tue, wed, thu, fri]\n  quiet_hours: [[12, 12]]\n",
    )
    [problem] = problems(acme)
    assert "send_window.quiet_hours" in problem and "[12, 13] for lunch" in problem


def test_quiet_hours_may_not_close_the_whole_window(acme: Path) -> None:
    edit(
        acme,
        "  weekdays: [mon, tue, wed, thu, fri]\n",
        "  weekdays: [mon, tue, wed, thu, fri]\n  quiet_hours: [[8, 19]]\n",
    )
    [problem] = problems(acme)
    assert "send_window" in problem and "cover all of hours [9, 18]" in problem


def test_a_url_rule_on_a_stripped_query_parameter_names_the_fix(acme: Path) -> None:
    """Query strings are stripped before rules see them: a rule on one would never match."""
    edit(acme, "{url_contains: acme.example/pricing,", "{url_contains: 'acme.example/p?plan=pro',")
    [problem] = problems(acme)
    assert f":{line_of(acme, 'plan=pro')}: pages[0].url_contains" in problem
    assert "query parameter 'plan' is stripped" in problem and "tracking.keep_query" in problem
    edit(acme, "pages:", "tracking: {keep_query: [plan]}\npages:")
    assert load_scenario_dir(acme).tracking.keep_query == ["plan"]


def test_tracking_names_must_be_plain_names(acme: Path) -> None:
    edit(acme, "pages:", "tracking: {keep_properties: ['a=b']}\npages:")
    [problem] = problems(acme)
    assert "tracking.keep_properties" in problem and "must be a plain name" in problem


def test_a_migration_must_come_from_a_removed_track_and_go_to_a_known_one(acme: Path) -> None:
    edit(acme, "entry_track: cold\n", "entry_track: cold\nmigrations:\n  warm: cold\n  old: gone\n")
    found = problems(acme)
    assert len(found) == 2
    assert "migrations.warm: track 'warm' is still in this version" in found[0]
    assert "migrations.old: unknown track 'gone'; expected one of: cold, warm" in found[1]


def test_a_trigger_template_must_guard_an_event_property_it_may_lack(acme: Path) -> None:
    yaml = acme / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(
        "    template: note\n    subject: Thanks for downloading\n",
        "    template: followup\n    subject: Thanks for downloading\n",
    ))  # fmt: skip
    followup = acme / "templates" / "followup.html"
    followup.write_text(
        '{% extends "layout.html" %}{% block body %}{{ event.properties.document }}{% endblock %}'
    )
    [problem] = problems(acme)
    assert "'dict object' has no attribute 'document'" in problem and "is defined" in problem
    followup.write_text(
        '{% extends "layout.html" %}{% block body %}{% if event.properties.document is defined '
        "%}{{ event.properties.document }}{% endif %}{% endblock %}"
    )
    load_scenario_dir(acme)


def test_a_trigger_fires_on_one_event_stage_or_known_pattern(acme: Path) -> None:
    edit(acme, "    when: {event: document_download}", "    when: {pattern: three product pages}")
    [unknown] = problems(acme)
    assert "unknown pattern 'three product pages'; known: 'product page 3+ times in 14 days'" in (
        unknown
    )
    edit(acme, "{pattern: three product pages}", "{stage: hot, event: document_download}")
    [both] = problems(acme)
    assert "give exactly one of 'event'" in both
    edit(acme, "{stage: hot, event: document_download}", "{stage: hot, url_contains: /x}")
    [narrowed] = problems(acme)
    assert "'url_contains' and 'properties' narrow an 'event' trigger only" in narrowed
    # a lifecycle move that leaves the lead with sales, or ends the journey, sends nothing
    edit(acme, "{stage: hot, url_contains: /x}", "{lifecycle: sql}")
    [with_sales] = problems(acme)
    assert "triggers[0].when.lifecycle" in with_sales and "'recycled'" in with_sales


def test_a_goal_is_one_event_or_one_lifecycle_move_and_named_once(acme: Path) -> None:
    edit(
        acme,
        "entry_track: cold",
        "goals:\n  - {name: won, event: purchase, lifecycle: customer}\nentry_track: cold",
    )
    [both] = problems(acme)
    assert "give exactly one of 'event' (e.g. demo_booked) or 'lifecycle'" in both
    edit(
        acme,
        "{name: won, event: purchase, lifecycle: customer}",
        "{name: won, event: purchase}\n  - {name: won, lifecycle: customer}",
    )
    [twice] = problems(acme)
    assert "duplicate goal name 'won'" in twice


def test_an_entry_rule_names_a_known_track_and_a_condition(acme: Path) -> None:
    edit(
        acme,
        "entry_track: cold",
        "entry:\n  - {when: {source: [trade_show]}, track: booth}\nentry_track: cold",
    )
    [unknown] = problems(acme)
    assert "unknown track 'booth'" in unknown
    edit(acme, "{when: {source: [trade_show]}, track: booth}", "{when: {}, track: warm}")
    [empty] = problems(acme)
    assert (
        "name a field (industry, company_size, role, region, department, source, in_segment, "
        "or an attribute the scenario declares)" in empty
    )


def test_a_no_response_follow_up_resends_or_switches_to_a_known_track(acme: Path) -> None:
    guide = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
    edit(acme, guide, guide[:-1] + ", unless_engaged: {within: 3d}}")
    [neither] = problems(acme)
    assert "give exactly one of 'resend'" in neither
    edit(acme, "unless_engaged: {within: 3d}", "unless_engaged: {within: 3d, track: short}")
    [unknown] = problems(acme)
    assert "unknown track 'short'" in unknown


def test_a_branch_on_a_pattern_names_a_known_one(acme: Path) -> None:
    edit(acme, "  - when: {stage: warm}", "  - when: {pattern: nope}")
    [unknown] = problems(acme)
    assert "unknown pattern 'nope'; known: 'product page 3+ times in 14 days'" in unknown


def test_a_lost_deal_returns_to_a_known_track(acme: Path) -> None:
    edit(acme, "entry_track: cold", "on_lost: {after: 90d, track: revived}\nentry_track: cold")
    [unknown] = problems(acme)
    assert "unknown track 'revived'" in unknown


ATTRIBUTES = (
    "attributes:\n"
    "  plan: {type: enum, values: [starter, pro]}\n"
    "  seats: {type: number}\n"
    "  renews_on: {type: date}\n"
    "entry_track: cold"
)


def test_lead_attributes_are_declared_with_a_type_and_used_as_declared(acme: Path) -> None:
    edit(acme, "entry_track: cold", ATTRIBUTES)
    edit(acme, "fit:\n", "fit:\n  - {name: pro, field: plna, in: [pro], points: 5}\n"
         "  - {name: big, field: plan, between: [1, 9], points: 5}\n"
         "  - {name: gold, field: plan, in: [gold], points: 5}\n")  # fmt: skip
    edit(acme, "    from: [cold]\n    to: warm", "    from: [cold]\n    to: warm\n"
         "    only_if: {any: [{seats: {at_least: 2027-01-01}}, {title: [CFO]}]}", )  # fmt: skip
    edit(acme, "entry_track: cold", "entry:\n  - {when: {renews_on: {below: 10}}, track: warm}\n"
         "entry_track: cold")  # fmt: skip
    found = problems(acme)
    yaml = acme / "scenario.yaml"
    expected = [
        (line_of(acme, "field: plna"), "fit[0].field: unknown field 'plna': use one of industry, "
         "company_size, role, region, department, or an attribute declared under attributes: "
         "(declared: plan, renews_on, seats)"),
        (line_of(acme, "name: big"), "fit[1].between: 'between' needs a number attribute; "
         "'plan' is a enum: use 'in'"),
        (line_of(acme, "name: gold"), "fit[2].in[0]: plan: takes one of starter, pro (got 'gold')"),
        (line_of(acme, "renews_on: {below"), "entry[0].when.renews_on: renews_on: a date "
         "attribute's range takes dates, e.g. at_least: 2027-01-01"),
        (line_of(acme, "only_if"), "branches[0].only_if.any[0].seats: seats: a number attribute's "
         "range takes numbers, e.g. at_least: 10"),
        (line_of(acme, "only_if"), "branches[0].only_if.any[1].title: unknown field 'title'"),
    ]  # fmt: skip
    assert len(found) == len(expected), found
    for (line, says), problem in zip(expected, found, strict=True):
        assert problem.startswith(f"{yaml}:{line}: "), problem
        assert says in problem, problem


def test_a_template_may_only_name_declared_attributes(acme: Path) -> None:
    edit(acme, "entry_track: cold", ATTRIBUTES)
    note = acme / "templates" / "note.html"
    note.write_text(note.read_text().replace(
        "{% block body %}", "{% block body %}{% if lead.attributes.plan == 'pro' %}Pro{% endif %}"
    ))  # fmt: skip
    load_scenario_dir(acme)  # declared: set on some sample leads, None on the others
    note.write_text(note.read_text().replace("attributes.plan", "attributes.plna"))
    [misspelt] = problems(acme)
    assert "has no attribute 'plna'" in misspelt, misspelt


def test_an_attribute_name_is_no_lead_field_and_no_personal_data(acme: Path) -> None:
    edit(acme, "entry_track: cold", "attributes:\n  phone: {type: string}\n"
         "  title: {type: string}\n  Plan: {type: enum}\nentry_track: cold")  # fmt: skip
    found = problems(acme)
    assert any("attributes.Plan" in p and "enum attribute lists its values" in p for p in found)
    edit(acme, "  Plan: {type: enum}\n", "")
    phone, title = problems(acme)
    assert "'phone' reads as personal data" in phone
    assert "'title' is a lead field of its own" in title


def test_a_goal_on_winning_may_not_end_what_on_customer_nurtures(acme: Path) -> None:
    edit(acme, "entry_track: cold", "on_customer: {after: 30d, track: warm}\n"
         "goals:\n  - {name: won, lifecycle: customer}\nentry_track: cold")  # fmt: skip
    [problem] = problems(acme)
    assert f":{line_of(acme, 'name: won')}: goals[0].then: goal 'won' would end" in problem
    edit(acme, "lifecycle: customer}", "lifecycle: customer, then: continue}")
    load_scenario_dir(acme)
