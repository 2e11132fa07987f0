"""What changed between two versions of a scenario, in words a marketer reads
(`nurture diff`): tracks, steps, waits, subjects, templates, scoring rules, thresholds,
hand-off, triggers, branches, send window, exit rules, page rules and the lead
attributes it declares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from nurture.scenario.durations import format_duration
from nurture.scenario.model import Scenario, Step, Track, Trigger


def describe_changes(
    old: Scenario,
    new: Scenario,
    old_templates: Mapping[str, str] | None = None,
    new_templates: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per change, in the scenario's order; empty when nothing that matters did."""
    lines: list[str] = []
    lines += _tracks(old, new)
    lines += _scoring(old, new)
    lines += _thresholds(old, new)
    lines += _keyed(
        "trigger",
        _by_key(old.triggers),
        _by_key(new.triggers),
        _trigger,
        added=lambda t: f" (fires on {t.when.describe()})",
    )
    lines += _listed("branch", old.branches, new.branches)
    lines += _listed("page rule", old.pages, new.pages)
    lines += _listed("exit rule", old.exit.when, new.exit.when)
    if old.exit.after != new.exit.after:
        lines.append(f"journeys end after {_d(old.exit.after)} → {_d(new.exit.after)}")
    if old.send_window != new.send_window:
        lines += _fields("send window", _dump(old.send_window), _dump(new.send_window))
    names = ("sender", "fit", "ab", "tracking", "locale", "name", "goals", "holdout", "entry",
             "on_lost", "on_customer", "attributes")  # fmt: skip
    for name in names:
        before, after = _dump(getattr(old, name)), _dump(getattr(new, name))
        if before != after:
            lines += _fields(name.replace("ab", "A/B testing"), before, after)
    if old_templates is not None and new_templates is not None:
        lines += _templates(old_templates, new_templates)
    return lines


def _tracks(old: Scenario, new: Scenario) -> list[str]:
    lines: list[str] = []
    if old.entry_track != new.entry_track:
        lines.append(f"new leads start on '{new.entry_track}' (was '{old.entry_track}')")
    for name in old.tracks.keys() - new.tracks.keys():
        to = new.migrations.get(name)
        where = f"'{to}' (migrations)" if to else f"the entry track '{new.entry_track}'"
        lines.append(f"track '{name}' removed: its journeys continue on {where}")
    for name, track in new.tracks.items():
        if name not in old.tracks:
            lines.append(f"track '{name}' added ({_steps_in_words(track)})")
        else:
            lines += _track(name, old.tracks[name], track)
    return lines


def _track(name: str, old: Track, new: Track) -> list[str]:
    lines: list[str] = []
    before, after = _by_key(old.steps), _by_key(new.steps)
    for key in before.keys() - after.keys():
        lines.append(f"{name}: step '{key}' removed (its journeys go on at the next step)")
    for i, step in enumerate(new.steps):
        if step.key not in before:
            lines.append(f"{name}: step '{step.key}' added at position {i + 1}")
        else:
            lines += [f"{name}/{step.key}: {change}" for change in _step(before[step.key], step)]
    common_old = [s.key for s in old.steps if s.key in after]
    common_new = [s.key for s in new.steps if s.key in before]
    if common_old != common_new:
        lines.append(f"{name}: steps reordered: {', '.join(common_new)}")
    if old.then != new.then:
        lines.append(f"{name}: after its last step '{old.then}' → '{new.then}'")
    return lines


def _step(old: Step, new: Step) -> list[str]:
    changes = []
    if old.wait != new.wait:
        changes.append(f"wait {_d(old.wait)} → {_d(new.wait)}")
    changes += _email(old, new)
    if old.mail_type != new.mail_type:
        changes.append(f"mail type {old.mail_type} → {new.mail_type}")
    return changes


def _email(old: Step | Trigger, new: Step | Trigger) -> list[str]:
    changes = []
    if old.subjects != new.subjects:
        changes.append(f"subject {_variants(old.subjects)} → {_variants(new.subjects)}")
    if old.templates != new.templates:
        changes.append(f"template {_variants(old.templates)} → {_variants(new.templates)}")
    if old.channel != new.channel:
        changes.append(f"channel {old.channel} → {new.channel}")
    if old.only_if != new.only_if:
        changes.append(f"only_if {_brief(_dump(old.only_if))} → {_brief(_dump(new.only_if))}")
    for part in ("line", "webhook"):
        before, after = _dump(getattr(old, part)) or {}, _dump(getattr(new, part)) or {}
        changes += [f"{part} {change}" for change in _changed_fields(before, after)]
    if old.channel == new.channel == "line" and old.fallback != new.fallback:
        changes.append(f"fallback {old.fallback} → {new.fallback}")
    return changes


def _trigger(old: Trigger, new: Trigger) -> list[str]:
    changes = _email(old, new)
    if old.when != new.when:
        changes.append(f"fires on {_dump(old.when)} → {_dump(new.when)}")
    if old.cooldown != new.cooldown:
        changes.append(f"cool-down {_d(old.cooldown)} → {_d(new.cooldown)}")
    if old.stages != new.stages:
        changes.append(f"stages {old.stages or 'any'} → {new.stages or 'any'}")
    return changes


def _scoring(old: Scenario, new: Scenario) -> list[str]:
    lines: list[str] = []
    before, after = old.scoring.events, new.scoring.events
    for event in sorted(before.keys() | after.keys()):
        was, now = before.get(event), after.get(event)
        if was == now:
            continue
        if was is None:
            lines.append(f"scoring: {event} now scores {_dump(now)}")
        elif now is None:
            lines.append(f"scoring: {event} no longer scores (was {_dump(was)})")
        else:
            lines += _fields(f"scoring: {event}", _dump(was), _dump(now))
    patterns_old = {p.name: p for p in old.scoring.patterns}
    patterns_new = {p.name: p for p in new.scoring.patterns}
    lines += _keyed(
        "scoring pattern",
        patterns_old,
        patterns_new,
        lambda a, b: _changed_fields(_dump(a), _dump(b)),
    )
    rest_old = _dump(old.scoring, exclude={"events", "patterns"})
    rest_new = _dump(new.scoring, exclude={"events", "patterns"})
    lines += _fields("scoring", rest_old, rest_new)
    return lines


def _thresholds(old: Scenario, new: Scenario) -> list[str]:
    lines = []
    for stage in ("warm", "hot"):
        was, now = getattr(old.stages, stage), getattr(new.stages, stage)
        if was != now:
            lines.append(f"{stage} from score {was} → {now}")
    lines += _fields("hand-off", _dump(old.handoff), _dump(new.handoff))
    return lines


def _templates(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"template file {name} removed")
        elif name not in old:
            lines.append(f"template file {name} added")
        elif old[name] != new[name]:
            lines.append(f"template file {name} edited")
    return lines


def _keyed(
    what: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Any,
    added: Callable[[Any], str] = lambda _: "",
) -> list[str]:
    lines = [f"{what} '{key}' removed" for key in old.keys() - new.keys()]
    for key, item in new.items():
        if key not in old:
            lines.append(f"{what} '{key}' added{added(item)}")
        elif old[key] != item:
            lines += [f"{what} '{key}': {change}" for change in changes(old[key], item)]
    return lines


def _listed(what: str, old: Iterable[Any], new: Iterable[Any]) -> list[str]:
    before, after = [_dump(x) for x in old], [_dump(x) for x in new]
    lines = [f"{what} removed: {_brief(x)}" for x in before if x not in after]
    return lines + [f"{what} added: {_brief(x)}" for x in after if x not in before]


def _fields(what: str, old: Any, new: Any) -> list[str]:
    return [f"{what}: {change}" for change in _changed_fields(old, new)]


def _changed_fields(old: Any, new: Any) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [f"{_brief(old)} → {_brief(new)}"]
    return [
        f"{key} {_brief(old.get(key))} → {_brief(new.get(key))}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]


def _by_key(items: Iterable[Any]) -> dict[str, Any]:
    return {item.key: item for item in items}


def _dump(value: Any, exclude: set[str] | None = None) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude=exclude, exclude_defaults=True, by_alias=True)
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


def _brief(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_brief(v)}" for k, v in value.items()) + "}"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    return str(value) if not isinstance(value, str) else f"'{value}'"


def _variants(values: list[str]) -> str:
    return f"'{values[0]}'" if len(values) == 1 else " / ".join(f"'{v}'" for v in values)


def _steps_in_words(track: Track) -> str:
    keys = ", ".join(s.key for s in track.steps)
    return f"{len(track.steps)} step{'s' if len(track.steps) != 1 else ''}: {keys}"


def _d(value: Any) -> str:
    return format_duration(value)
