"""Pinned versions: a copy of each scenario version's definition and templates in the store.

A journey's history pins the scenario version it loaded; its emails must render from that
version's templates too, even after marketing edits or renames the files on disk. A rollout
moves journeys from one version to another, and `nurture versions` and `nurture diff` read
versions whose files are long gone: the definitions are kept for them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.scenario.model import Scenario
from nurture.store.engine import Store, find_or_insert
from nurture.store.models import ScenarioDefinition, ScenarioTemplate

# What a definition keeps of a scenario: `role_send_hours` is measured when a journey loads
# the scenario, not part of the version.
_MEASURED = {"role_send_hours"}


def pin_templates(store: Store, folder: Path, product: str, version: str) -> None:
    """Copy `folder/templates/*` into the store under `version`, once."""
    files = sorted(p for p in (folder / "templates").glob("*") if p.is_file())

    def missing(session: Session) -> list[Path]:
        known = set(
            session.scalars(
                select(ScenarioTemplate.name).where(
                    ScenarioTemplate.product == product, ScenarioTemplate.version == version
                )
            )
        )
        return [p for p in files if p.name not in known]

    def all_pinned(session: Session) -> bool | None:
        return None if missing(session) else True

    def pin(session: Session) -> bool:
        for path in missing(session):
            session.add(
                ScenarioTemplate(
                    product=product,
                    version=version,
                    name=path.name,
                    source=path.read_text(encoding="utf-8"),
                )
            )
        return True

    # another worker may pin the same version at the same moment: then it is pinned
    find_or_insert(store, all_pinned, pin)


def pinned_sources(store: Store, product: str, version: str) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(ScenarioTemplate.name, ScenarioTemplate.source).where(
                ScenarioTemplate.product == product, ScenarioTemplate.version == version
            )
        )
        return {name: source for name, source in rows}


def pin_definition(store: Store, scenario: Scenario) -> None:
    """Keep `scenario`'s definition under its version, once (the first use is its date)."""

    def find(session: Session) -> ScenarioDefinition | None:
        return session.scalars(
            select(ScenarioDefinition).where(
                ScenarioDefinition.product == scenario.product,
                ScenarioDefinition.version == scenario.version,
            )
        ).first()

    def insert(session: Session) -> ScenarioDefinition:
        row = ScenarioDefinition(
            product=scenario.product,
            version=scenario.version,
            definition=scenario.model_dump_json(exclude=_MEASURED),
        )
        session.add(row)
        return row

    find_or_insert(store, find, insert)


def pinned_scenario(store: Store, product: str, version: str) -> Scenario | None:
    """The definition of `product`'s scenario `version`, or None if no journey loaded it."""
    with store.session() as session:
        text = session.scalar(
            select(ScenarioDefinition.definition).where(
                ScenarioDefinition.product == product, ScenarioDefinition.version == version
            )
        )
    return None if text is None else Scenario.model_validate_json(text)


def pinned_versions(store: Store, product: str) -> list[tuple[str, datetime]]:
    """Every version of `product` a journey loaded, with its first use, oldest first."""
    with store.session() as session:
        rows = session.execute(
            select(ScenarioDefinition.version, ScenarioDefinition.first_used_at)
            .where(ScenarioDefinition.product == product)
            .order_by(ScenarioDefinition.first_used_at, ScenarioDefinition.id)
        )
        return [(version, used) for version, used in rows]
