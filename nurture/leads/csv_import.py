"""Turning a trade-show or business-card list (CSV) into leads, with errors per row."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from nurture.leads.attributes import AttributeCatalog, AttributeValue
from nurture.leads.fields import one_line_problem
from nurture.leads.roles import role_from_title
from nurture.store.engine import ConsentIn, LeadIn


def _consent(row: dict[str, str]) -> ConsentIn | None:
    if not row.get("consent_basis"):
        return None
    return ConsentIn(
        basis=row["consent_basis"],
        wording=row.get("consent_wording") or "",
        source=row.get("consent_source") or None,
    )


REQUIRED_COLUMNS = {"email"}
KNOWN_COLUMNS = {
    "name",
    "first_name",
    "last_name",
    "email",
    "company",
    "industry",
    "size",
    "company_size",
    "title",
    "role",
    "region",
    "department",
    "timezone",
    "locale",
    "external_id",
    "source",
}


@dataclass(frozen=True)
class Row:
    line: int
    lead: LeadIn | None
    error: str | None


def split_name(name: str, locale: str | None) -> tuple[str | None, str | None]:
    """(first, last): Japanese lists put the family name first ("佐藤 愛子")."""
    parts = name.split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return parts[0], None
    if locale == "ja" or re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name):
        return " ".join(parts[1:]), parts[0]
    return " ".join(parts[:-1]), parts[-1]


def parse_size(text: str) -> int | None:
    """Employees from "800", "1,200", "51-200" (lower bound) or "1000+"."""
    match = re.search(r"\d[\d,]*", text or "")
    return int(match.group().replace(",", "")) if match else None


def read_leads(
    path: Path,
    *,
    source: str = "trade_show",
    locale: str | None = None,
    consent: ConsentIn | None = None,
    catalog: AttributeCatalog | None = None,
) -> Iterator[Row]:
    """One Row per data line; a bad row carries its error and never stops the others. A
    column named like an attribute the scenarios declare (`catalog`) fills that attribute."""
    catalog = catalog or AttributeCatalog()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        missing = REQUIRED_COLUMNS - columns
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}; expected a header like "
                "name,email,company,industry,size,title"
            )
        unknown = columns - KNOWN_COLUMNS - set(catalog.declared)
        if unknown:
            raise ValueError(
                f"{path}: unknown column(s) {', '.join(sorted(unknown))}; known columns: "
                f"{', '.join(sorted(KNOWN_COLUMNS))}; attributes the scenarios declare: "
                f"{catalog.known()}"
            )
        line = reader.line_num + 1  # where a row starts: a quoted value may span lines
        for raw in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            yield parse_row(line, row, source, locale, consent, catalog)
            line = reader.line_num + 1


def parse_row(
    line: int,
    row: dict[str, str],
    source: str,
    locale: str | None,
    consent: ConsentIn | None = None,
    catalog: AttributeCatalog | None = None,
) -> Row:
    """One lead from one row; the row's own consent columns win over the import's `consent`.
    An empty attribute cell leaves the attribute as it is."""
    first, last = row.get("first_name") or None, row.get("last_name") or None
    problem = one_line_problem(row.get("name", ""), "name")  # split_name would hide a break
    if problem:
        return Row(line, None, f"{problem} (got {row['name']!r})")
    if not (first or last) and row.get("name"):
        first, last = split_name(row["name"], row.get("locale") or locale)
    size_text = row.get("company_size") or row.get("size") or ""
    try:
        attributes = _attributes(row, catalog or AttributeCatalog())
        lead = _lead(row, first, last, size_text, source, locale, consent)
        if attributes:
            lead = lead.model_copy(update={"attributes": attributes})
        return Row(line, lead, None)
    except AttributeProblem as err:
        return Row(line, None, str(err))
    except ValidationError as err:
        return Row(line, None, "; ".join(_problem(e) for e in err.errors()))


class AttributeProblem(ValueError):
    """A cell that is not a value its attribute takes."""


def _attributes(row: dict[str, str], catalog: AttributeCatalog) -> dict[str, AttributeValue]:
    values: dict[str, AttributeValue] = {}
    for name, declared in catalog.declared.items():
        text = row.get(name, "")
        if not text:
            continue
        try:
            values[name] = declared.spec.from_text(text)
        except ValueError as err:
            raise AttributeProblem(f"{name}: {err}") from None
    return values


def _problem(error: ErrorDetails) -> str:
    """'field: what is wrong (got value)', naming neither the field nor the value twice."""
    where = ".".join(str(p) for p in error["loc"])
    message = error["msg"] if error["msg"].startswith(f"{where} ") else f"{where}: {error['msg']}"
    got = repr(error.get("input"))
    return message if got in message else f"{message} (got {got})"


def _lead(
    row: dict[str, str],
    first: str | None,
    last: str | None,
    size_text: str,
    source: str,
    locale: str | None,
    consent: ConsentIn | None,
) -> LeadIn:
    data = {
        "email": row.get("email", ""),
        "first_name": first,
        "last_name": last,
        "company": row.get("company") or None,
        "industry": (row.get("industry") or "").lower() or None,
        "company_size": parse_size(size_text),
        "title": row.get("title") or None,
        "role": row.get("role") or role_from_title(row.get("title")),
        "region": row.get("region") or None,
        "department": row.get("department") or None,
        "timezone": row.get("timezone") or None,
        "locale": row.get("locale") or locale,
        "external_id": row.get("external_id") or None,
        "source": row.get("source") or source,
        "owner": row.get("owner") or None,
        "consent": _consent(row) or consent,
    }
    return LeadIn(**{k: v for k, v in data.items() if v is not None})
