"""Custom lead attributes: what each type takes, CSV cells, and one catalog across products."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nurture.leads.attributes import AttributeCatalog, AttributeSpec, merged
from nurture.leads.csv_import import read_leads
from nurture.store.engine import LeadIn, Store

PLAN = AttributeSpec(type="enum", values=["starter", "pro"])
SEATS = AttributeSpec(type="number")
CATALOG = AttributeCatalog.of(
    [
        ("acme", {"plan": PLAN, "seats": SEATS}),
        ("cloudbook", {"seats": SEATS, "budget_approved": AttributeSpec(type="boolean")}),
    ]
)


def test_each_type_takes_its_own_values_and_says_what_it_takes() -> None:
    assert PLAN.check("PRO") == "pro"
    assert SEATS.check(12) == 12 and SEATS.check(2.5) == 2.5
    assert AttributeSpec(type="date").check(" 2027-03-31 ") == "2027-03-31"
    assert AttributeSpec(type="string").check("  key account ") == "key account"
    for spec, value, says in [
        (PLAN, "gold", "takes one of starter, pro (got 'gold')"),
        (SEATS, True, "takes a number"),
        (SEATS, float("nan"), "takes a number"),
        (AttributeSpec(type="boolean"), "true", "takes true or false"),
        (AttributeSpec(type="date"), "2027-13-01", "takes a date as YYYY-MM-DD"),
        (AttributeSpec(type="string"), "x" * 201, "at most 200 characters"),
        (AttributeSpec(type="string"), "a\u2028b", "line break"),
    ]:
        with pytest.raises(ValueError, match=re.escape(says)):
            spec.check(value)


def test_csv_cells_read_as_their_types() -> None:
    assert AttributeSpec(type="boolean").from_text("Yes") is True
    assert AttributeSpec(type="boolean").from_text("0") is False
    assert SEATS.from_text("40") == 40 and SEATS.from_text("2.5") == 2.5
    with pytest.raises(ValueError, match="takes a number"):
        SEATS.from_text("forty")


def test_one_catalog_across_products_refuses_unknown_names_and_reports_conflicts() -> None:
    assert CATALOG.check({"plan": "Starter", "seats": None}) == {"plan": "starter", "seats": None}
    with pytest.raises(ValueError, match=r"attributes\.tier: unknown attribute 'tier'; known "
                       r"attributes: budget_approved, plan, seats"):  # fmt: skip
        CATALOG.check({"tier": "gold"})
    assert CATALOG.conflicts == []
    clash = AttributeCatalog.of([("b", {"seats": PLAN}), ("a", {"seats": SEATS})])
    assert clash.conflicts == [
        "attribute 'seats' is a enum of starter, pro in b but a number in a: a lead has one "
        "value, so declare it the same way in both"
    ]


def test_an_update_keeps_what_it_does_not_name_and_null_clears() -> None:
    assert merged({"plan": "pro", "seats": 3}, {"seats": None, "budget_approved": True}) == {
        "plan": "pro",
        "budget_approved": True,
    }


def test_csv_columns_named_like_declared_attributes_fill_them(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "email,plan,seats,budget_approved\n"
        "aiko@example.jp,Pro,40,yes\n"
        "ken@example.jp,gold,,\n"
        "mia@example.jp,,,\n"
    )
    aiko, ken, mia = read_leads(path, catalog=CATALOG)
    assert aiko.lead is not None and aiko.lead.attributes == {
        "plan": "pro", "seats": 40, "budget_approved": True,
    }  # fmt: skip
    assert ken.lead is None and ken.error == "plan: takes one of starter, pro (got 'gold')"
    assert mia.lead is not None and mia.lead.attributes is None  # empty cells change nothing
    lead, _ = store.upsert_lead(aiko.lead)
    store.upsert_lead(LeadIn(email="aiko@example.jp", attributes={"seats": 41}))
    assert store.get_lead(lead.id).attributes == {  # type: ignore[union-attr]
        "plan": "pro", "seats": 41, "budget_approved": True,
    }  # fmt: skip
    (tmp_path / "odd.csv").write_text("email,tier\naiko@example.jp,gold\n")
    with pytest.raises(ValueError, match=r"unknown column.s. tier; known columns: .*; attributes "
                       r"the scenarios declare: budget_approved, plan, seats"):  # fmt: skip
        list(read_leads(tmp_path / "odd.csv", catalog=CATALOG))


def test_names_that_read_as_personal_data_or_something_else_are_refused() -> None:
    from nurture.leads.attributes import name_problem

    for name in ("phone_number", "home_address", "birthdate", "email_address", "dob"):
        assert "reads as personal data" in (name_problem(name) or ""), name
    for name in ("items", "values", "any", "not"):
        assert "is reserved" in (name_problem(name) or ""), name
    for name in ("plan", "seats", "agent_count", "mailing_list", "renews_on"):
        assert name_problem(name) is None, name
