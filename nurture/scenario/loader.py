"""Loading and validating scenario files, with errors that name the file, the line and the fix.

A scenario lives in `scenarios/<product>/scenario.yaml` with its templates in
`scenarios/<product>/templates/`. Its version is a hash of all those files, so a
journey's history (which records the loaded scenario) says exactly what it ran.
"""

from __future__ import annotations

import hashlib
import types
import typing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import holidays
import jinja2
import yaml
from pydantic import BaseModel, ValidationError

from nurture.channels.line.messages import LineMessageError, line_file, render_line_messages
from nurture.channels.templating import JsonTemplateError, parse_json_template, render_strings
from nurture.channels.webhook import webhook_file
from nurture.mail.render import SAMPLE_JOURNEY, TemplateRenderer, email_context, sample_leads
from nurture.scenario.attribute_checks import attribute_problems, segment_name_problems
from nurture.scenario.model import SLUG, LineMessage, Scenario, reference_problems

SCENARIO_FILE = "scenario.yaml"
# The unsubscribe link templates get when checked for sample leads.
SAMPLE_UNSUBSCRIBE_URL = "https://example.invalid/v1/unsubscribe/sample-token"
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else str(self.file)
        where = f" {self.where}:" if self.where else ""
        return f"{place}:{where} {self.message}"


class ScenarioError(Exception):
    """A scenario that cannot run; `problems` lists every reason found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def scenario_dirs(root: Path) -> list[Path]:
    """Every product folder under `root` (or `root` itself when it is one)."""
    if (root / SCENARIO_FILE).exists():
        return [root]
    return sorted(p for p in root.iterdir() if (p / SCENARIO_FILE).exists())


_validated: dict[tuple[Path, str], Scenario] = {}
_CACHE_SIZE = 64


def has_scenario(root: Path, product: str) -> bool:
    """Whether `product` names a scenario under `root` (valid or not)."""
    return bool(SLUG.match(product)) and (root / product / SCENARIO_FILE).exists()


def load_scenario(root: Path, product: str) -> Scenario:
    """The validated scenario of `product` under the scenarios folder `root`.

    Validation (templates rendered for sample leads) runs once per version: starting a
    thousand journeys reads the files' bytes a thousand times, and parses them once.
    """
    folder = root / product
    if not has_scenario(root, product):
        known = ", ".join(p.name for p in scenario_dirs(root)) if root.is_dir() else "none"
        raise ScenarioError(
            [
                Problem(
                    folder / SCENARIO_FILE,
                    None,
                    "",
                    f"no scenario for product {product!r} (known products: {known})",
                )
            ]
        )
    key = (folder.resolve(), scenario_version(folder))
    scenario = _validated.get(key)
    if scenario is None:
        scenario = load_scenario_dir(folder)
        if len(_validated) >= _CACHE_SIZE:
            _validated.clear()
        _validated[(key[0], scenario.version)] = scenario
    return scenario


def valid_scenarios(root: Path) -> list[Scenario]:
    """Every product's scenario under `root` that loads (through `load_scenario`'s cache);
    a broken one is left out, `nurture validate` says why; no folder, no scenarios."""
    scenarios = []
    for folder in scenario_dirs(root) if root.is_dir() else []:
        try:
            scenarios.append(load_scenario(folder.parent, folder.name))
        except ScenarioError:
            continue
    return scenarios


def load_scenario_dir(folder: Path, *, check_templates: bool = True) -> Scenario:
    file = folder / SCENARIO_FILE
    text = file.read_text(encoding="utf-8")
    data, lines, problems = parse_yaml(file, text)
    if problems:
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError([validation_problem(file, lines, e) for e in err.errors()]) from None
    problems = [
        Problem(file, line_for(lines, path), dotted(path), message)
        for path, message in [
            *reference_problems(scenario),
            *attribute_problems(scenario),
            *segment_name_problems(scenario, defined_segments(folder.parent)),
        ]
    ]
    if scenario.product != folder.name:
        problems.append(
            Problem(
                file,
                line_for(lines, ("product",)),
                "product",
                f"product {scenario.product!r} must match its folder name {folder.name!r}",
            )
        )
    problems += _country_problems(scenario, file, lines)
    if check_templates:
        problems += template_problems(folder, scenario, file, lines)
    if problems:
        raise ScenarioError(problems)
    return _with_country_holidays(scenario).model_copy(update={"version": scenario_version(folder)})


def _country_problems(scenario: Scenario, file: Path, lines: dict[Path_, int]) -> list[Problem]:
    window = scenario.send_window
    if window is None or window.country_holidays is None:
        return []
    if window.country_holidays in holidays.list_supported_countries():
        return []
    path: Path_ = ("send_window", "country_holidays")
    return [
        Problem(
            file,
            line_for(lines, path),
            dotted(path),
            f"no public holidays known for {window.country_holidays!r}: use an ISO 3166 "
            "country code such as JP, US, GB or DE",
        )
    ]


def _with_country_holidays(scenario: Scenario) -> Scenario:
    """The country's public holidays from last year to two years ahead, added to the
    window's own list: resolved here, so a journey's history records the dates it used."""
    window = scenario.send_window
    if window is None or window.country_holidays is None:
        return scenario
    this_year = date.today().year
    years = range(this_year - 1, this_year + 3)
    public = holidays.country_holidays(window.country_holidays, years=years)
    days = sorted(set(window.holidays) | set(public))
    return scenario.model_copy(update={"send_window": window.model_copy(update={"holidays": days})})


def defined_segments(root: Path) -> set[str] | None:
    """The names scenarios/segments.yaml defines; None when the file cannot be read (its
    problems are `nurture segment check`'s to report: a scenario naming segments still
    loads, and its journeys take the lead as in none of them until the file is fixed)."""
    file = root / "segments.yaml"
    if not file.exists():
        return set()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    found = data.get("segments") if isinstance(data, dict) else None
    return {str(name) for name in found} if isinstance(found, dict) else None


def scenario_version(folder: Path) -> str:
    """A short hash of scenario.yaml and every template: changes when any of them does."""
    digest = hashlib.sha256()
    files = [folder / SCENARIO_FILE, *sorted((folder / "templates").glob("*"))]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def template_problems(
    folder: Path, scenario: Scenario, file: Path, lines: dict[Path_, int]
) -> list[Problem]:
    """Every referenced template exists, parses, renders for sample leads, and is lawful."""
    renderer = TemplateRenderer.for_folder(folder)
    problems: list[Problem] = []
    checked: set[str] = set()
    subjects = _subjects_by_template(scenario)
    events = _events_by_template(scenario)
    for path, name in scenario.template_names():
        where, line = dotted(path), line_for(lines, path)
        if not _html_path(folder, name).exists():
            problems.append(
                Problem(
                    file,
                    line,
                    where,
                    f"template {name!r} not found: create {_html_path(folder, name)}",
                )
            )
            continue
        if name in checked:
            continue
        checked.add(name)
        problems += render_problems(
            renderer,
            _html_path(folder, name),
            scenario,
            name,
            subjects[name],
            events.get(name, [None]),
            file,
            line,
            where,
        )
    problems += _line_problems(folder, scenario, renderer, file, lines)
    return problems + _webhook_problems(folder, scenario, renderer, file, lines)


def _line_problems(
    folder: Path,
    scenario: Scenario,
    renderer: TemplateRenderer,
    file: Path,
    lines: dict[Path_, int],
) -> list[Problem]:
    """Every LINE step's message exists and renders, for every sample lead, to messages
    LINE accepts (nurture/channels/line/messages.py)."""
    problems: list[Problem] = []
    for path, step in scenario.line_steps():
        assert step.line is not None
        where, line = dotted((*path, "line")), line_for(lines, (*path, "line"))
        source_path = folder / "templates" / line_file(step.line.template)
        if not source_path.exists():
            problems.append(
                Problem(file, line, where, f"LINE message not found: create {source_path}")
            )
            continue
        source = source_path.read_text(encoding="utf-8")
        problem = line_message_problem(renderer, scenario, step.line, source)
        if problem is not None:
            problems.append(Problem(source_path, None, where, problem))
    return problems


def line_message_problem(
    renderer: TemplateRenderer, scenario: Scenario, line: LineMessage, source: str
) -> str | None:
    """Why a LINE message (its `.line.json` source) would not render, for some sample
    lead, to messages LINE accepts; None when it does for all."""
    for lead in sample_leads(scenario.attributes):
        context = email_context(
            scenario.brand,
            lead,
            unsubscribe_url=SAMPLE_UNSUBSCRIBE_URL,
            preferences_url=SAMPLE_UNSUBSCRIBE_URL,
            journey=SAMPLE_JOURNEY,
        )
        try:
            render_line_messages(renderer.env, line.template, source, line.alt_text, context)
        except LineMessageError as err:
            return str(err)
    return None


def _webhook_problems(
    folder: Path,
    scenario: Scenario,
    renderer: TemplateRenderer,
    file: Path,
    lines: dict[Path_, int],
) -> list[Problem]:
    """Every webhook step's body exists, is JSON, and renders for every sample lead."""
    problems: list[Problem] = []
    for path, step in scenario.steps_on("webhook"):
        assert step.webhook is not None
        where, line = dotted((*path, "webhook")), line_for(lines, (*path, "webhook"))
        source_path = folder / "templates" / webhook_file(step.webhook.template)
        if not source_path.exists():
            problems.append(
                Problem(file, line, where, f"webhook body not found: create {source_path}")
            )
            continue
        try:
            body = parse_json_template(source_path.name, source_path.read_text(encoding="utf-8"))
            for lead in sample_leads(scenario.attributes):
                context = email_context(
                    scenario.brand,
                    lead,
                    unsubscribe_url="",
                    preferences_url="",
                    journey=SAMPLE_JOURNEY,
                )
                render_strings(renderer.env, body, context)
        except (JsonTemplateError, jinja2.TemplateError) as err:
            problems.append(Problem(source_path, None, where, f"{type(err).__name__}: {err}"))
    return problems


def _html_path(folder: Path, template: str) -> Path:
    return folder / "templates" / f"{template}.html"


def _events_by_template(scenario: Scenario) -> dict[str, list[dict[str, Any] | None]]:
    """The `event` each trigger template is rendered with: its trigger's event with every
    property a kept event may carry, and with none (a property may be missing: the
    template guards it with `is defined`). A step's template has no event (None)."""
    found: dict[str, list[dict[str, Any] | None]] = {}
    for trigger in scenario.triggers:
        keys = {*trigger.when.properties, *scenario.tracking.keep_properties}
        full = {
            "type": trigger.when.event or "",
            "url": "https://example.invalid/page",
            "properties": {key: f"sample {key}" for key in sorted(keys)},
        }
        bare = {**full, "properties": {}}
        for _, template in trigger.variants():
            found.setdefault(template, [None]).extend([full, bare])
    return found


def _subjects_by_template(scenario: Scenario) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    emails = [step for track in scenario.tracks.values() for step in track.steps]
    for email in [*emails, *scenario.triggers]:
        for subject, template in email.variants():
            found.setdefault(template, []).append(subject)
    return found


def render_problems(
    renderer: TemplateRenderer,
    html: Path,
    scenario: Scenario,
    name: str,
    subjects: list[str],
    events: list[dict[str, Any] | None],
    file: Path,
    line: int | None,
    where: str,
) -> list[Problem]:
    unsubscribe = SAMPLE_UNSUBSCRIBE_URL
    leads = sample_leads(scenario.attributes)
    for lead, event in ((lead, event) for lead in leads for event in events):
        context = email_context(
            scenario.brand,
            lead,
            unsubscribe_url=unsubscribe,
            preferences_url=unsubscribe,
            journey=SAMPLE_JOURNEY,
            event=event,
        )
        try:
            for subject in subjects:
                content = renderer.render(name, subject, context)
        except jinja2.TemplateSyntaxError as err:
            return [
                Problem(
                    Path(err.filename or html),
                    err.lineno,
                    "",
                    f"template syntax error: {err.message}",
                )
            ]
        except jinja2.UndefinedError as err:
            return [
                Problem(
                    html,
                    None,
                    "",
                    f"{err.message} (referenced from {file}:{line} {where}); "
                    "use a variable every lead has, or guard it with "
                    "{% if ... is defined %}",
                )
            ]
        except jinja2.TemplateError as err:
            return [Problem(html, None, "", f"template error: {err}")]
        missing = [
            what
            for what, needle in (
                ("the unsubscribe link ({{ unsubscribe_url }})", unsubscribe),
                ("the sender's postal address", scenario.sender.postal_address),
            )
            if needle not in content.html or needle not in content.text
        ]
        if missing:
            return [
                Problem(
                    html,
                    None,
                    "",
                    f"the email lacks {' and '.join(missing)}, which the law requires in "
                    "every marketing email: extend the product's layout.html footer",
                )
            ]
    return []


def parse_yaml(file: Path, text: str) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Data plus the line of every key and list item; duplicate keys are errors, not overrides."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return None, {}, [Problem(file, line, "", f"not valid YAML: {err}")]
    if node is None:
        return None, {}, [Problem(file, 1, "", "the file is empty; start from an example scenario")]
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    _walk(node, (), lines, problems, file)
    return yaml.safe_load(text), lines, problems


def _walk(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], file: Path
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        dotted(path),
                        f"key {key!r} appears twice; keep one",
                    )
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, problems, file)


def line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of the deepest part of `path` the file has (pydantic adds type names to paths)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_problem(
    file: Path, lines: dict[Path_, int], error: Any, root: type[BaseModel] = Scenario
) -> Problem:
    loc: Path_ = tuple(error["loc"])
    data_path = tuple(p for p in loc if not _is_type_tag(p))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(data_path[:-1], root)
        message = f"unknown key {data_path[-1]!r}"
        if allowed:
            message += f"; allowed keys here: {', '.join(allowed)}"
    elif error["type"] == "missing":
        message = f"required key {data_path[-1]!r} is missing"
    elif (
        "input" in error
        and error["type"] not in ("value_error",)
        and not isinstance(error["input"], dict | list)
    ):
        message += f" (got {error['input']!r})"
    return Problem(file, line_for(lines, data_path), dotted(data_path), message)


def _is_type_tag(part: str | int) -> bool:
    """Pydantic names union members in locations ('str', 'list[str]'); they are not YAML keys."""
    return isinstance(part, str) and (
        "[" in part
        or part in ("str", "int", "float", "bool", "list", "dict")
        or part.startswith("function-")
    )


def _allowed_keys(path: Path_, root: type[BaseModel]) -> list[str]:
    model: Any = root
    for part in path:
        model = _descend(model, part)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items() if name != "version"]
    return []


def _descend(tp: Any, part: str | int) -> Any:
    for candidate in _union_members(tp):
        origin = typing.get_origin(candidate)
        if (
            isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
            and isinstance(part, str)
        ):
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        elif origin is dict and isinstance(part, str):
            return typing.get_args(candidate)[1]
        elif origin in (list, tuple) and isinstance(part, int):
            return typing.get_args(candidate)[0]
    return None


def _union_members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)
