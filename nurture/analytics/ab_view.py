"""A/B results for people (`nurture report ab`): a table, or CSV (one line per arm);
`--json` is the model itself."""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.table import Table

from nurture.analytics.ab_report import DEFINITIONS, AbReport, AbTest


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def render(report: AbReport, console: Console) -> None:
    table = Table(title="A/B tests")
    for column in ("product", "step", "metric", "arms", "difference", "p", "verdict"):
        table.add_column(column)
    for test in report.tests:
        table.add_row(
            test.product,
            f"{test.track}/{test.step}",
            test.metric,
            "  ".join(f"{a.variant} {a.successes}/{a.sent} ({_pct(a.rate)})" for a in test.arms),
            _difference(test),
            "—" if test.p_value is None else f"{test.p_value:.3g}",
            test.verdict + (f": {test.leader}" if test.leader else ""),
        )
    console.print(table)
    if not report.tests:
        console.print("no step with two or more variants sent in the period")
    for test in report.tests:
        console.print(f"{test.track}/{test.step}: {test.why}", highlight=False)
    for name in ("winner", "no difference", "no difference yet"):
        console.print(f"[dim]{name}: {DEFINITIONS[name]}[/dim]", highlight=False)


def _difference(test: AbTest) -> str:
    if test.difference is None or test.ci_low is None or test.ci_high is None:
        return "—"
    return f"{test.difference:+.1%} [{test.ci_low:+.1%}, {test.ci_high:+.1%}]"


def to_csv(report: AbReport) -> str:
    out = io.StringIO()
    fields = [
        "product",
        "track",
        "step",
        "metric",
        "variant",
        "sent",
        "successes",
        "rate",
        "verdict",
        "leader",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
    ]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for test in report.tests:
        for arm in test.arms:
            line = test.model_dump() | arm.model_dump()
            writer.writerow({k: ("" if line[k] is None else line[k]) for k in fields})
    return out.getvalue()
