"""A scoring suggestion as a patch of the scenario file: points, daily caps and the
hand-off threshold only, every other byte (comments, order, flow style) as it was.

The values are found by PyYAML's node marks and replaced in the text, so the patch is a
small unified diff a marketer reads line by line, applies with `git apply` (or
`patch -p1`), then checks with `nurture validate`, `nurture diff`, `nurture simulate` and
ships with `nurture rollout`. A patch whose result would not validate is refused.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from nurture.scenario.loader import SCENARIO_FILE, ScenarioError, load_scenario_dir
from nurture.suggestions.scoring_suggestion import ScoringSuggestion


class PatchError(ValueError):
    """The suggestion cannot be written as a patch of this scenario file."""


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def scenario_patch(folder: Path, suggestion: ScoringSuggestion, *, relative_to: Path) -> str:
    """The unified diff that turns the folder's scenario.yaml into the suggestion, with a
    header saying what it is; "" when nothing would change."""
    file = folder / SCENARIO_FILE
    before = file.read_text(encoding="utf-8")
    after = patched_text(before, suggestion)
    if after == before:
        return ""
    _check(folder, after)
    name = _display_path(file, relative_to)
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    header = (
        f"# nurture suggest scoring {suggestion.product}: points and threshold learnt from "
        f"{suggestion.decided} decided hand-offs ({suggestion.won} won).\n"
        "# Review it, then: git apply THIS_FILE (or patch -p1 < THIS_FILE); nurture validate;\n"
        f"# nurture diff {suggestion.product}; nurture simulate {suggestion.product}; "
        "nurture rollout.\n"
    )
    return header + "".join(diff)


def patched_text(text: str, suggestion: ScoringSuggestion) -> str:
    """The scenario file's text with the suggested points, caps and threshold."""
    if "*" in text and any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text)):
        raise PatchError("the scenario file uses YAML aliases (*name): patch it by hand")
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise PatchError("the scenario file is not a mapping")
    edits: list[_Edit] = []
    for rule in suggestion.rules:
        if rule.suggested_points == rule.current_points:
            continue
        rule_node = _rule_node(root, rule.kind, rule.name, _nth(rule.rule))
        edits.append(_replace(_value(rule_node, "points"), str(rule.suggested_points)))
        if rule.suggested_daily_cap is not None and rule.suggested_daily_cap != rule.daily_cap:
            edits.append(_replace(_value(rule_node, "daily_cap"), str(rule.suggested_daily_cap)))
    threshold = suggestion.threshold
    if (
        threshold is not None
        and threshold.recommended_threshold is not None
        and threshold.recommended_threshold != threshold.current_threshold
    ):
        edits.append(_threshold_edit(text, root, threshold.recommended_threshold))
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _nth(key: str) -> int:
    """Which rule of that name a key means: `fit:x#2` is the second fit rule named x."""
    _, sep, n = key.rpartition("#")
    return int(n) if sep and n.isdigit() else 1


def _rule_node(root: yaml.MappingNode, kind: str, name: str, nth: int) -> yaml.MappingNode:
    if kind == "fit":
        node = _item_named(_value(root, "fit"), name, nth)
    elif kind == "event":
        node = _value(_value(_value(root, "scoring"), "events"), name)
    elif kind == "pattern":
        node = _item_named(_value(_value(root, "scoring"), "patterns"), name, nth)
    else:
        node = _value(_value(root, "scoring"), "every_email_opened")
    if not isinstance(node, yaml.MappingNode):
        raise PatchError(f"the {kind} rule {name!r} is not a mapping in the scenario file")
    return node


def _value(node: yaml.Node, key: str) -> yaml.Node:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == key:
                return value
    raise PatchError(f"no {key!r} at line {node.start_mark.line + 1} of the scenario file")


def _item_named(node: yaml.Node, name: str, nth: int) -> yaml.Node:
    if isinstance(node, yaml.SequenceNode):
        named = [
            item
            for item in node.value
            if isinstance(item, yaml.MappingNode)
            and any(k.value == "name" and v.value == name for k, v in item.value)
        ]
        if len(named) >= nth:
            return named[nth - 1]
    raise PatchError(f"no rule named {name!r} in the scenario file")


def _replace(node: yaml.Node, text: str) -> _Edit:
    if not isinstance(node, yaml.ScalarNode):
        raise PatchError(f"the value at line {node.start_mark.line + 1} is not a number")
    if node.start_mark.index == node.end_mark.index:  # `points:` with nothing after it
        text = " " + text
    return _Edit(node.start_mark.index, node.end_mark.index, text)


def _threshold_edit(text: str, root: yaml.MappingNode, threshold: int) -> _Edit:
    """`handoff.score_at_least` replaced, or added as the hand-off's first key (the
    threshold defaults to the hot stage, which the suggestion leaves alone)."""
    handoff = _value(root, "handoff")
    for key_node, value in handoff.value if isinstance(handoff, yaml.MappingNode) else ():
        if key_node.value == "score_at_least":
            return _replace(value, str(threshold))
    if not isinstance(handoff, yaml.MappingNode) or handoff.flow_style or not handoff.value:
        raise PatchError("handoff: is not a block mapping: set score_at_least by hand")
    first = handoff.value[0][0]
    line_start = text.rfind("\n", 0, first.start_mark.index) + 1
    indent = " " * first.start_mark.column
    newline = "\r\n" if "\r\n" in text else "\n"
    return _Edit(line_start, line_start, f"{indent}score_at_least: {threshold}{newline}")


def _check(folder: Path, text: str) -> None:
    """Refuse a patch whose scenario would not load (say, a hot stage below warm)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / folder.name
        copy.mkdir()
        (copy / SCENARIO_FILE).write_text(text, encoding="utf-8")
        templates = folder / "templates"
        if templates.is_dir():
            shutil.copytree(templates, copy / "templates")
        try:
            load_scenario_dir(copy, check_templates=False)
        except ScenarioError as err:
            raise PatchError(f"the patched scenario would not load: {err}") from None


def _display_path(file: Path, relative_to: Path) -> str:
    try:
        return file.resolve().relative_to(relative_to.resolve()).as_posix()
    except ValueError:
        return file.as_posix().lstrip("/")
