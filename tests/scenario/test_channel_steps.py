"""LINE and webhook steps in a scenario: what `nurture validate` refuses, and the fix it names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nurture.cli.app import app
from nurture.config import get_settings
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from tests.helpers.paths import SCENARIOS

GUIDE = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
LINE_GUIDE = (
    "{key: guide, wait: 30d, template: note, subject: A guide, channel: line, "
    "line: {template: guide, alt_text: A guide}}"
)


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    folder = tmp_path / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    return folder


def with_step(folder: Path, step: str, message: object = None) -> None:
    yaml = folder / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(GUIDE, step))
    if message is not None:
        text = message if isinstance(message, str) else json.dumps(message)
        (folder / "templates" / "guide.line.json").write_text(text)


def problems(folder: Path) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    return [str(p) for p in err.value.problems]


def test_a_line_step_with_its_message_loads(acme: Path) -> None:
    with_step(acme, LINE_GUIDE, {"type": "text", "text": "{{ lead.first_name }}さん"})
    scenario = load_scenario_dir(acme)
    [(path, step)] = scenario.line_steps()
    assert path == ("tracks", "cold", "steps", 1) and step.fallback == "email"


def test_a_line_step_needs_its_message_and_an_email_step_none(acme: Path) -> None:
    with_step(acme, LINE_GUIDE.replace(", line: {template: guide, alt_text: A guide}", ""))
    [problem] = problems(acme)
    assert "a `channel: line` step needs `line: {template: NAME, alt_text: ...}`" in problem
    assert "templates/NAME.line.json" in problem


def test_a_missing_or_unacceptable_message_names_the_file(acme: Path) -> None:
    with_step(acme, LINE_GUIDE)
    [missing] = problems(acme)
    assert "LINE message not found: create" in missing and "guide.line.json" in missing
    (acme / "templates" / "guide.line.json").write_text('{"type": "text", "text": "{{ nope }}"}')
    [undefined] = problems(acme)
    assert "guide.line.json" in undefined and "'nope' is undefined" in undefined


def test_pushing_through_line_needs_the_products_channel(
    acme: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_step(acme, LINE_GUIDE, {"type": "text", "text": "hi"})
    monkeypatch.setenv("NURTURE_LINE_PROVIDER", "line")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["validate", str(acme)])
        assert result.exit_code == 1
        assert "tracks.cold.steps.1: a LINE step, but acme has no LINE account configured" in (
            " ".join(result.output.split())
        )
        assert "NURTURE_LINE_CHANNELS" in result.output
        monkeypatch.setenv(
            "NURTURE_LINE_CHANNELS", '{"acme": {"access_token": "t", "secret": "s"}}'
        )
        get_settings.cache_clear()
        assert CliRunner().invoke(app, ["validate", str(acme)]).exit_code == 0
    finally:
        get_settings.cache_clear()


WEBHOOK_GUIDE = (
    "{key: guide, wait: 30d, channel: webhook, "
    "webhook: {url: 'https://crm.example/hooks', template: task}}"
)


def test_a_step_sent_without_email_needs_no_template_but_one_by_email_does(acme: Path) -> None:
    with_step(acme, WEBHOOK_GUIDE)
    (acme / "templates" / "task.webhook.json").write_text('{"who": "{{ lead.first_name }}"}')
    [(_, step)] = load_scenario_dir(acme).steps_on("webhook")
    assert step.template is None and step.variants() == []
    yaml = acme / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(WEBHOOK_GUIDE, "{key: guide, wait: 30d}"))
    [problem] = problems(acme)
    assert "a step sent by email needs `template and subject`" in problem


def test_a_webhook_steps_body_must_exist_and_render(acme: Path) -> None:
    with_step(acme, WEBHOOK_GUIDE)
    [missing] = problems(acme)
    assert "webhook body not found: create" in missing and "task.webhook.json" in missing
    (acme / "templates" / "task.webhook.json").write_text('{"who": "{{ lead.nope }}"')
    [broken] = problems(acme)
    assert "task.webhook.json is not JSON" in broken
    (acme / "templates" / "task.webhook.json").write_text('{"who": "{{ lead.nope }}"}')
    [undefined] = problems(acme)
    assert "UndefinedError: 'dict object' has no attribute 'nope'" in undefined


def test_a_webhook_step_needs_the_signing_secret(
    acme: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_step(acme, WEBHOOK_GUIDE)
    (acme / "templates" / "task.webhook.json").write_text('{"who": "{{ lead.first_name }}"}')
    monkeypatch.delenv("NURTURE_STEP_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["validate", str(acme)])
        assert result.exit_code == 1
        said = " ".join(result.output.split())
        assert (
            "tracks.cold.steps.1: a webhook step, but NURTURE_STEP_WEBHOOK_SECRET is not set"
            in said
        )
        monkeypatch.setenv("NURTURE_STEP_WEBHOOK_SECRET", "x" * 32)
        get_settings.cache_clear()
        assert CliRunner().invoke(app, ["validate", str(acme)]).exit_code == 0
    finally:
        get_settings.cache_clear()


def test_a_webhook_step_posts_over_https(acme: Path) -> None:
    with_step(acme, WEBHOOK_GUIDE.replace("https://crm.example", "http://crm.example"))
    (acme / "templates" / "task.webhook.json").write_text('{"who": "{{ lead.first_name }}"}')
    [problem] = problems(acme)
    assert "use https:// (the body carries the lead's data)" in problem
