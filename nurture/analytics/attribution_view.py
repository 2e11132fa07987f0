"""What led to sales, for people (`nurture report attribution`); `--json` is the model."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nurture.analytics.attribution_report import DEFINITIONS, AttributionReport, StepCredit
from nurture.analytics.csv_lines import csv_of


def render(report: AttributionReport, console: Console) -> None:
    steps = Table(title=f"Emails in the {report.window_days} days before hand-offs and wins")
    for column in ("product", "track", "step", "hand-offs: any touch", "last touch",
                   "wins: any touch", "last touch"):  # fmt: skip
        steps.add_column(column)
    for c in report.steps:
        steps.add_row(c.product, c.track, c.step, str(c.handoffs_any_touch),
                      str(c.handoffs_last_touch), str(c.wins_any_touch),
                      str(c.wins_last_touch))  # fmt: skip
    console.print(steps)
    sources = Table(title="By lead source")
    for column in ("product", "source", "hand-offs", "wins"):
        sources.add_column(column)
    for s in report.by_source:
        sources.add_row(s.product, s.source, str(s.handoffs), str(s.wins))
    console.print(sources)
    for name in ("any_touch", "last_touch"):
        console.print(f"[dim]{name}: {DEFINITIONS[name]}[/dim]", highlight=False)


def to_csv(report: AttributionReport) -> str:
    """One line per step (the by-source counts are in --json and the table)."""
    return csv_of(StepCredit, report.steps)
