"""The funnel and the stage flow, for people (`nurture report funnel`); `--json` is the model."""

from __future__ import annotations

import csv
import io

from rich.console import Console
from rich.table import Table

from nurture.analytics.funnel_report import DEFINITIONS, FunnelReport, TrackFunnel
from nurture.scenario.model import STAGES


def render(report: FunnelReport, console: Console) -> None:
    for track in report.tracks:
        console.print(_funnel_table(track))
    if not report.tracks:
        console.print("No journey entered a track in the period.")
    for flow in report.stage_flow:
        weeks = Table(title=f"{flow.product}: stage flow, week by week")
        for column in ("week (Mon)", "moves", *(f"{stage} at end" for stage in STAGES)):
            weeks.add_column(column)
        for week in flow.weeks:
            moves = ", ".join(f"{key} {count}" for key, count in sorted(week.moves.items()))
            weeks.add_row(
                week.week.isoformat(),
                moves or "-",
                *(str(week.in_stage.get(stage, 0)) for stage in STAGES),
            )
        console.print(weeks)
    for name in ("entered", "warm", "handed_off"):
        console.print(f"[dim]{name}: {DEFINITIONS[name]}[/dim]", highlight=False)


def _funnel_table(track: TrackFunnel) -> Table:
    table = Table(title=f"{track.product} · track {track.track}")
    for column in ("", "journeys", "of entered", "drop-off"):
        table.add_column(column)

    def share(count: int) -> str:
        return f"{count / track.entered:.1%}" if track.entered else "-"

    table.add_row("entered", str(track.entered), share(track.entered), "")
    for step in track.steps:
        drop = "-" if step.drop_off is None else f"{step.drop_off:.1%}"
        table.add_row(f"step {step.step}", str(step.journeys), share(step.journeys), drop)
    for name in ("engaged", "warm", "hot", "handed_off", "accepted", "won"):
        count = getattr(track, name)
        table.add_row(name.replace("_", " "), str(count), share(count), "")
    return table


def to_csv(report: FunnelReport) -> str:
    """One line per track and stage of its funnel: product, track, stage, journeys."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["product", "track", "stage", "journeys", "drop_off"])
    for t in report.tracks:
        writer.writerow([t.product, t.track, "entered", t.entered, ""])
        for step in t.steps:
            drop = "" if step.drop_off is None else step.drop_off
            writer.writerow([t.product, t.track, f"step:{step.step}", step.journeys, drop])
        for name in ("engaged", "warm", "hot", "handed_off", "accepted", "won"):
            writer.writerow([t.product, t.track, name, getattr(t, name), ""])
    return out.getvalue()
