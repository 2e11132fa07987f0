"""Checks that a scenario's rules on lead data name fields that exist, with fitting values;
and the catalog of what all scenarios declare.

Fit rules and lead conditions (`entry`, `only_if`, a branch's or exit's `lead:`) may name
a custom attribute; pydantic cannot know which ones the scenario declares, so these checks
run once the model is built, each problem with the path of the key it is about (the loader
turns it into file:line).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from nurture.leads.attributes import AttributeCatalog, AttributeSpec, name_problem
from nurture.leads.profile import FIT_FIELDS
from nurture.scenario.model import AttributeMatch, AttributeRange, LeadCondition, Scenario

Path = tuple[str | int, ...]
CONDITION_FIELDS = (
    "industry",
    "company_size",
    "role",
    "region",
    "department",
    "source",
    "in_segment",
)


def declared_attributes(scenarios: Iterable[Scenario]) -> AttributeCatalog:
    """What the scenarios declare of leads, for checking values as they arrive."""
    return AttributeCatalog.of((scenario.product, scenario.attributes) for scenario in scenarios)


def attribute_problems(scenario: Scenario) -> list[tuple[Path, str]]:
    """Every declaration, fit rule and condition on lead data that cannot work."""
    declared = scenario.attributes
    problems: list[tuple[Path, str]] = [
        (("attributes", name), problem)
        for name in declared
        if (problem := name_problem(name)) is not None
    ]
    for i, rule in enumerate(scenario.fit):
        path: Path = ("fit", i)
        if rule.field in FIT_FIELDS:
            continue
        spec = declared.get(rule.field)
        if spec is None:
            problems.append(((*path, "field"), _unknown(rule.field, FIT_FIELDS, declared)))
        elif rule.between is not None and spec.type != "number":
            problems.append(
                ((*path, "between"), f"'between' needs a number attribute; {rule.field!r} is "
                 f"a {spec.type}: use 'in'")
            )  # fmt: skip
        elif rule.in_ is not None:
            problems += [
                ((*path, "in", j), f"{rule.field}: {problem}")
                for j, value in enumerate(rule.in_)
                if (problem := _value_problem(spec, value)) is not None
            ]
    for path, condition in lead_conditions(scenario):
        problems += condition_problems(path, condition, declared)
        if condition.segments() and path[0] not in SEGMENT_ASKED_IN:
            problems.append(
                (path, "in_segment: is asked of the store when a step is sent and when a journey "
                 "starts: use it in a step's only_if or in entry")
            )  # fmt: skip
    return problems


# Where a condition may name a segment: the journey asks the store (a local activity) there.
SEGMENT_ASKED_IN = ("entry", "tracks")


def segment_name_problems(scenario: Scenario, known: set[str] | None) -> list[tuple[Path, str]]:
    """Segments named in conditions that scenarios/segments.yaml does not define (nothing
    to say when the file cannot be read: `None`)."""
    if known is None:
        return []
    listed = ", ".join(sorted(known)) or "none (define them in scenarios/segments.yaml)"
    return [
        (path, f"no segment {name!r} in scenarios/segments.yaml (defined: {listed})")
        for path, condition in lead_conditions(scenario)
        for name in sorted(condition.segments())
        if name not in known
    ]


def lead_conditions(scenario: Scenario) -> Iterator[tuple[Path, LeadCondition]]:
    """Every condition on who the lead is, with its path."""
    for i, rule in enumerate(scenario.entry):
        yield ("entry", i, "when"), rule.when
    for name, track in scenario.tracks.items():
        for i, step in enumerate(track.steps):
            if step.only_if is not None:
                yield ("tracks", name, "steps", i, "only_if"), step.only_if
    for i, trigger in enumerate(scenario.triggers):
        if trigger.only_if is not None:
            yield ("triggers", i, "only_if"), trigger.only_if
    for i, branch in enumerate(scenario.branches):
        if branch.only_if is not None:
            yield ("branches", i, "only_if"), branch.only_if
        if branch.when.lead is not None:
            yield ("branches", i, "when", "lead"), branch.when.lead
    for i, condition in enumerate(scenario.exit.when):
        if condition.lead is not None:
            yield ("exit", "when", i, "lead"), condition.lead


def condition_problems(
    path: Path, condition: LeadCondition, declared: dict[str, AttributeSpec]
) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    for name, match in condition.attributes.items():
        spec = declared.get(name)
        if spec is None:
            problems.append(((*path, name), _unknown(name, CONDITION_FIELDS, declared)))
        else:
            problems += [((*path, name), f"{name}: {p}") for p in _match_problems(spec, match)]
    for key, nested in (("any", condition.any), ("all", condition.all)):
        for j, inner in enumerate(nested or ()):
            problems += condition_problems((*path, key, j), inner, declared)
    if condition.not_ is not None:
        problems += condition_problems((*path, "not"), condition.not_, declared)
    return problems


def _match_problems(spec: AttributeSpec, match: AttributeMatch) -> list[str]:
    if isinstance(match, AttributeRange):
        bounds = [b for b in (match.at_least, match.below) if b is not None]
        if not bounds:
            return ["a range names at_least, below or both"]
        if spec.type == "number" and all(not isinstance(b, date) for b in bounds):
            return []
        if spec.type == "date" and all(isinstance(b, date) for b in bounds):
            return []
        if spec.type in ("number", "date"):
            example = "2027-01-01" if spec.type == "date" else "10"
            return [f"a {spec.type} attribute's range takes {spec.type}s, e.g. at_least: {example}"]
        return [f"{{at_least, below}} needs a number or date attribute; this one is a {spec.type}"]
    values = match if isinstance(match, list) else [match]
    return [p for value in values if (p := _value_problem(spec, value)) is not None]


def _value_problem(spec: AttributeSpec, value: object) -> str | None:
    """Why a value written in the scenario can never be this attribute's value."""
    if isinstance(value, date):
        value = value.isoformat()
    try:
        spec.check(value)
    except ValueError as err:
        return str(err)
    return None


def _unknown(name: str, fields: tuple[str, ...], declared: dict[str, AttributeSpec]) -> str:
    attributes = ", ".join(sorted(declared)) or "none declared"
    return (
        f"unknown field {name!r}: use one of {', '.join(fields)}, or an attribute declared "
        f"under attributes: (declared: {attributes})"
    )
