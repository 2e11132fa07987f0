"""The engagement report for people (`nurture report engagement`): a table, or CSV for a
spreadsheet; `--json` is the model itself."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nurture.analytics.csv_lines import csv_of
from nurture.analytics.engagement_report import DEFINITIONS, EngagementReport, EngagementRow

RATES = ("open_rate", "click_rate", "click_to_open", "unsubscribe_rate", "spam_rate", "bounce_rate")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def render(report: EngagementReport, console: Console) -> None:
    since = f"{report.since:%Y-%m-%d}" if report.since else "the start"
    table = Table(title=f"Engagement of emails sent from {since} to {report.until:%Y-%m-%d}")
    for column in (
        "product",
        "track",
        "step",
        "var",
        "sent",
        "deliv.",
        "bounced",
        "opened",
        "open %",
        "clicked",
        "click %",
        "CTO",
        "unsub.",
        "spam",
    ):
        table.add_column(
            column, justify="right" if column not in ("product", "track", "step") else "left"
        )
    for row in report.rows:
        table.add_row(*_cells(row))
    console.print(table)
    if not report.rows:
        console.print("no emails went out in the period")
    for name in ("sent", "opened", "rates"):
        console.print(f"[dim]{name}: {DEFINITIONS[name]}[/dim]", highlight=False)


def _cells(row: EngagementRow) -> list[str]:
    return [
        row.product,
        row.track,
        row.step,
        row.variant,
        str(row.sent),
        str(row.delivered),
        str(row.bounced),
        str(row.opened),
        _pct(row.open_rate),
        str(row.clicked),
        _pct(row.click_rate),
        _pct(row.click_to_open),
        str(row.unsubscribed),
        str(row.spam_reported),
    ]


def to_csv(report: EngagementReport) -> str:
    """One line per row, every count and rate (rates as fractions, empty when undefined)."""
    return csv_of(EngagementRow, report.rows)
