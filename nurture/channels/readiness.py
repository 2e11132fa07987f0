"""Whether a scenario's channels can reach anyone with these settings, and the fix: the
check `nurture validate` adds to the scenario's own (which knows no settings)."""

from __future__ import annotations

from nurture.config import Settings
from nurture.scenario.model import Scenario


def channel_problems(scenario: Scenario, settings: Settings) -> list[str]:
    problems = []
    line = scenario.steps_on("line")
    if line and settings.line_provider == "line" and scenario.product not in settings.line_channels:
        problems.append(
            f"{_where(line[0][0])}: a LINE step, but {scenario.product} has no LINE account "
            f'configured: add it to NURTURE_LINE_CHANNELS, e.g. {{"{scenario.product}": '
            '{"access_token": "…", "secret": "…"}} (LINE Developers console, Messaging API '
            "tab), or set NURTURE_LINE_PROVIDER=outbox to write the messages to files"
        )
    webhook = scenario.steps_on("webhook")
    if webhook and settings.step_webhook_secret is None:
        problems.append(
            f"{_where(webhook[0][0])}: a webhook step, but NURTURE_STEP_WEBHOOK_SECRET is not "
            "set: set it to a long random value the receiver shares, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    slack = scenario.handoff.notify.slack
    if slack is not None and settings.slack_bot_token is None:
        problems.append(
            f"handoff.notify.slack: hand-offs go to Slack {slack.channel}, but "
            "NURTURE_SLACK_BOT_TOKEN is not set: create a Slack app with the chat:write "
            "scope, invite it to the channel, and set its bot token (xoxb-…)"
        )
    return problems


def _where(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)
