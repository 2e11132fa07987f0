"""What the `ScenarioRollout` workflow takes, reports and hands its activities."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

WORKFLOW_TYPE = "ScenarioRollout"
UPDATE_NAME = "scenario_update"
PREVIEW_QUERY = "scenario_update_preview"
EXAMPLES_KEPT = 20


def rollout_id(product: str, version: str) -> str:
    """One rollout per product and target version at a time."""
    return f"rollout:{product}:{version}"


class RolloutInput(BaseModel):
    product: str
    version: str
    where: str | None = Field(default=None, description="extra visibility query, ANDed")
    rate: float = Field(default=20.0, gt=0, le=1000, description="journeys per second at most")
    page_size: int = Field(default=200, ge=1, le=1000)
    heartbeat_seconds: int = Field(
        default=30, ge=1, le=600, description="a batch silent this long is retried elsewhere"
    )
    by: str = "rollout"
    progress: RolloutProgress | None = Field(default=None, description="carried across runs")


class Refusal(BaseModel):
    journey_id: str
    reason: str


class RolloutProgress(BaseModel):
    """How far the rollout is: its query's count at the start, and what each journey did."""

    started_at: datetime
    query: str
    matched: int = 0
    moved: int = 0
    already: int = 0
    refused: int = 0
    gone: int = 0
    passes: int = 1
    moved_this_pass: int = 0
    page_token: bytes | None = None
    paused: bool = False
    state: Literal["running", "paused", "finished", "cancelled"] = "running"
    refusals: list[Refusal] = Field(default_factory=list, description="the first few")

    @property
    def done(self) -> int:
        return self.moved + self.already + self.refused + self.gone


class ListJourneysInput(BaseModel):
    query: str
    page_token: bytes | None = None
    page_size: int = 200


class JourneyPage(BaseModel):
    journey_ids: list[str]
    next_page_token: bytes | None


class UpdateJourneysInput(BaseModel):
    journey_ids: list[str]
    version: str
    by: str


Outcome = Literal["moved", "already", "refused", "gone"]


class UpdateOutcome(BaseModel):
    journey_id: str
    outcome: Outcome
    detail: str = ""


RolloutInput.model_rebuild()
