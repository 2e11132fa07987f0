"""A scoring suggestion as tables for people (`nurture suggest scoring`); --json is the
model itself."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nurture.suggestions.scoring_suggestion import ModelFigures, ScoringSuggestion

VERDICTS = {
    "signal": "signal",
    "no_signal": "no signal → 0",
    "unstable": "sign flips between folds: left as is",
    "too_rare": "too rare to judge: left as is",
    "constant": "every hand-off had it: left as is",
    "duplicate": "fires in step with {same_as}: judged as one",
    "inestimable": "cannot be sized apart: left as is",
}


def _odds(low: float | None, ratio: float | None, high: float | None) -> str:
    if ratio is None:
        return "—"
    if low is None or high is None:
        return f"{ratio:.2f}"
    return f"{ratio:.2f} ({low:.2f}–{high:.2f})"


def _rules(suggestion: ScoringSuggestion) -> Table:
    table = Table(title="rules", title_justify="left")
    for name in ("rule", "points now", "suggested", "odds ×/unit (95%)", "fired in", "verdict"):
        table.add_column(name, justify="left" if name in ("rule", "verdict") else "right")
    for rule in suggestion.rules:
        moved = rule.suggested_points != rule.current_points
        suggested = f"[bold]{rule.suggested_points}[/bold]" if moved else str(rule.suggested_points)
        if rule.suggested_daily_cap is not None and rule.suggested_daily_cap != rule.daily_cap:
            suggested += f" (cap {rule.daily_cap}→{rule.suggested_daily_cap})"
        table.add_row(
            f"{rule.kind}: {rule.name}",
            str(rule.current_points),
            suggested,
            _odds(rule.odds_ratio_low, rule.odds_ratio, rule.odds_ratio_high),
            str(rule.fired_in),
            VERDICTS[rule.verdict].format(same_as=rule.same_as),
        )
    return table


def _figures(name: str, figures: ModelFigures | None) -> str:
    if figures is None:
        return f"{name}: —"
    auc = "—" if figures.auc is None else f"{figures.auc:.3f}"
    bins = " · ".join(f"{p:.0%}→{o:.0%}" for p, o, _ in figures.calibration)
    return f"{name}: AUC {auc}, Brier {figures.brier:.3f}, predicted→won by fifth: {bins}"


def render(suggestion: ScoringSuggestion, console: Console) -> None:
    since = f"{suggestion.since:%Y-%m-%d}" if suggestion.since else "the first hand-off"
    console.print(
        f"[bold]Scoring suggestion[/bold] for {suggestion.product}, from hand-offs made "
        f"{since} to {suggestion.until:%Y-%m-%d %H:%M} UTC: {suggestion.decided} decided "
        f"({suggestion.won} won), {suggestion.open} open"
        + (f"; {suggestion.erased} of erased leads left out" if suggestion.erased else ""),
        highlight=False,
    )
    if suggestion.status != "suggested":
        console.print(f"[yellow]→ {suggestion.message}[/yellow]", highlight=False)
    else:
        console.print(_rules(suggestion), highlight=False)
        console.print("held-out folds (5-fold cross-validation):", highlight=False)
        console.print("  " + _figures("suggested model", suggestion.model), highlight=False)
        console.print("  " + _figures("current rules", suggestion.current), highlight=False)
        console.print(f"[green]→ {suggestion.message}[/green]", highlight=False)
    console.print()
    for key, text in suggestion.guardrails.items():
        console.print(f"[dim]{key}: {text}[/dim]", highlight=False)
