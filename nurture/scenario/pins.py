"""Pinned templates: a copy of each scenario version's templates in the store.

A journey's history pins the scenario version it loaded; its emails must render from that
version's templates too, even after marketing edits or renames the files on disk.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nurture.store.engine import Store
from nurture.store.models import ScenarioTemplate


def pin_templates(store: Store, folder: Path, product: str, version: str) -> None:
    """Copy `folder/templates/*` into the store under `version`, once."""
    with store.session() as session:
        known = set(
            session.scalars(
                select(ScenarioTemplate.name).where(
                    ScenarioTemplate.product == product, ScenarioTemplate.version == version
                )
            )
        )
    files = sorted(p for p in (folder / "templates").glob("*") if p.is_file())
    missing = [p for p in files if p.name not in known]
    if not missing:
        return
    try:
        with store.session() as session:
            for path in missing:
                session.add(
                    ScenarioTemplate(
                        product=product,
                        version=version,
                        name=path.name,
                        source=path.read_text(encoding="utf-8"),
                    )
                )
    except IntegrityError:
        pass  # another worker pinned the same version at the same moment


def pinned_sources(store: Store, product: str, version: str) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(ScenarioTemplate.name, ScenarioTemplate.source).where(
                ScenarioTemplate.product == product, ScenarioTemplate.version == version
            )
        )
        return {name: source for name, source in rows}
