"""Pinned templates: a copy of each scenario version's templates in the store.

A journey's history pins the scenario version it loaded; its emails must render from that
version's templates too, even after marketing edits or renames the files on disk.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.store.engine import Store, find_or_insert
from nurture.store.models import ScenarioTemplate


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
