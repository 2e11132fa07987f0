"""What the benchmarks print: the ratio table, table rows, quantiles, the machine's facts.

Every bench ends with its ratios against the floor of the same run (`print_ratios`, or a
table of its own where the floor is one column among several), then where the time went,
then the facts that make a figure comparable with another run (`machine_facts`).
"""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.harness.cpu import Result


def print_ratios(
    rows: Iterable[tuple[str, Result, Result]], *, width: int, title: str = "measure"
) -> None:
    """`label, floor, Nurture` rows as: measure, floor/s, nurture/s, ratio."""
    print(f"\n{title:<{width}}{'floor/s':>10}{'nurture/s':>11}{'ratio':>8}")
    for label, floor, ours in rows:
        ratio = ours.rate / floor.rate
        print(f"{label:<{width}}{floor.rate:>10.1f}{ours.rate:>11.1f}{ratio:>8.2f}")


def print_line(label: str, value: str, width: int = 44) -> None:
    """A progress line: what a phase measured, printed as soon as it is known."""
    print(f"{label:<{width}}{value}", flush=True)


def cell(value: float | str | None, size: int, digits: int = 2) -> str:
    """One right-aligned table cell: a number, a text, or "-" for none (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{size}}"
    if isinstance(value, str):
        return f"{value:>{size}}"
    return f"{value:>{size}.{digits}f}"


def print_row(
    label: str, values: Iterable[float | str | None], *, width: int, size: int, digits: int = 2
) -> None:
    """A label and its cells, as the benches' "where the time goes" tables print them."""
    print(f"{label:<{width}}" + "".join(cell(v, size, digits) for v in values))


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the value below which a fraction q of the samples lie (NaN if none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def machine_facts(versions: Iterable[str], notes: Iterable[str] = ()) -> str:
    """The machine, Python and the versions that matter to a bench, then its own notes."""
    return "\n".join(
        [
            f"machine: {os.cpu_count()} CPUs · {platform.platform()}",
            " · ".join([f"python {platform.python_version()}", *versions]),
            *notes,
        ]
    )


def print_log_tails(paths: Iterable[Path], lines: int = 30) -> None:
    """The logs of a run that failed (each once): the cause is usually in one of them."""
    for path in dict.fromkeys(paths):
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            print(f"\n{path.name} (last lines):\n" + "\n".join(tail), file=sys.stderr)
