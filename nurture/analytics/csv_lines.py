"""Reports as CSV for a spreadsheet: one line per model, its fields as columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pydantic import BaseModel


def csv_of(model: type[BaseModel], lines: Iterable[BaseModel]) -> str:
    """A header of `model`'s fields, then one line each; None becomes an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(model.model_fields), lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({k: ("" if v is None else v) for k, v in line.model_dump().items()})
    return out.getvalue()
