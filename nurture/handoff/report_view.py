"""The hand-off report as tables for people (`nurture report handoffs`); --json is the model."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nurture.handoff.report import DEFINITIONS, HandoffReport, ProductReport


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _summary(report: ProductReport) -> Table:
    policy = report.policy
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    table.add_row(
        "hand-offs",
        str(report.handoffs),
        f"{report.handoffs / report.days:.1f}/day over {report.days} day(s); "
        f"withdrawn before sales saw them: {report.withdrawn}",
    )
    answered = report.accepted + report.not_accepted
    table.add_row(
        "accepted",
        str(report.accepted),
        f"acceptance rate {_pct(report.acceptance_rate)} of {answered} answered; "
        f"awaiting answer: {report.awaiting_answer}",
    )
    verdict = {None: "", True: " ✓ meets", False: " ✗ below"}[report.meets_target]
    table.add_row(
        "won",
        str(report.won),
        f"precision {_pct(report.precision)} (won / {report.decided} decided) · target "
        f"{policy.target_precision:.0%}{verdict}",
    )
    table.add_row(
        "decided",
        str(report.decided),
        f"lost {report.lost} · rejected {report.rejected} · disqualified {report.disqualified}",
    )
    table.add_row(
        "open",
        str(report.open),
        f"no outcome yet; won of all hand-offs: {_pct(report.won_of_all)}",
    )
    median = report.first_touch_median_hours
    table.add_row(
        "first sales touch",
        "—" if median is None else f"{median:.1f} h",
        f"median over {report.touched} touched; untouched: {report.handoffs - report.touched}",
    )
    return table


def _calibration(report: ProductReport) -> Table:
    policy, calibration = report.policy, report.calibration
    capacity = f"{policy.daily_capacity}/day" if policy.daily_capacity else "not set"
    table = Table(
        title=f"threshold calibration · target {policy.target_precision:.0%} · "
        f"capacity {capacity} · threshold now {policy.current_threshold or '—'}",
        title_justify="left",
    )
    for name in ("score ≥", "hand-offs", "per day", "decided", "won", "precision", ""):
        table.add_column(name, justify="left" if not name else "right")
    for row in calibration.rows:
        notes = []
        if not row.enough_data:
            notes.append(f"< {calibration.min_decided} decided")
        elif row.meets_target:
            notes.append("meets target")
        if not row.within_capacity:
            notes.append("over capacity")
        if row.threshold == calibration.recommended_threshold:
            notes.append("◀ recommended")
        if row.threshold == policy.current_threshold:
            notes.append("(now)")
        table.add_row(
            str(row.threshold),
            str(row.handoffs),
            f"{row.per_day:.2f}",
            str(row.decided),
            str(row.won),
            _pct(row.precision),
            " ".join(notes),
        )
    return table


def render(report: HandoffReport, console: Console) -> None:
    since = f"{report.since:%Y-%m-%d}" if report.since else "the first hand-off"
    console.print(
        f"[bold]Hand-offs[/bold] from {since} to {report.until:%Y-%m-%d %H:%M} UTC", highlight=False
    )
    for product in report.products:
        console.print()
        console.print(
            f"[bold]{product.product}[/bold] · targets from {product.policy.source}",
            highlight=False,
        )
        console.print(_summary(product), highlight=False)
        if product.calibration.rows:
            console.print(_calibration(product), highlight=False)
        style = "green" if product.calibration.status == "recommended" else "yellow"
        console.print(f"[{style}]→ {product.calibration.message}[/{style}]", highlight=False)
    console.print()
    for key in ("precision", "accepted", "first_touch", "selection_bias"):
        console.print(f"[dim]{key}: {DEFINITIONS[key]}[/dim]", highlight=False)
