"""Quality assurance: supervisors review resolved conversations against a scorecard.

The scorecard (qa.yaml, the `qa_scorecard_path` setting) names the criteria, each with a
weight and a scale of points; a review gives each criterion a score on its scale (and may
comment on it), and its total is the weighted mean of score / points, as a percentage:

    criteria:
      - {id: greeting, label: Greets the customer by name, weight: 1, points: 5}
      - {id: resolution, label: Solves the problem, weight: 3, points: 5}
    daily_sample: 5     # resolved chats offered for review each day

Each day the service offers a sample of the previous day's (UTC) conversations an agent
resolved, drawn at random with the date as the seed: every process offers the same ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatkit.configfile import load_config_file
from chatkit.errors import Forbidden, InvalidPayload, NotFound
from chatkit.models import Agent, AgentRole, now_ms
from chatkit.storage import Store
from chatkit.storage.reports import QaReview

DAY_MS = 24 * 3600 * 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    id: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    weight: float = Field(gt=0, le=100)
    #: The top of the scale: scores run 0..points (1 for a pass/fail check).
    points: int = Field(5, ge=1, le=100)


DEFAULT_CRITERIA = (
    Criterion(id="greeting", label="Greets the customer and introduces themself", weight=1),
    Criterion(id="understanding", label="Understands the question before answering",
              weight=2),
    Criterion(id="resolution", label="Solves the problem, or says clearly what happens next",
              weight=3),
    Criterion(id="tone", label="Friendly, clear and in the customer's words", weight=2),
    Criterion(id="process", label="Follows the process (notes, tags, verification)", weight=1,
              points=1),
)


class Scorecard(_Strict):
    criteria: tuple[Criterion, ...] = Field(DEFAULT_CRITERIA, min_length=1, max_length=50)
    daily_sample: int = Field(5, ge=0, le=200)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scorecard:
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError(f"criteria: each id once ({', '.join(sorted(ids))})")
        return self

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_scorecard(path: Path | None) -> Scorecard:
    """The scorecard in `path` (the built-in one when None). Blocking; raises ConfigError
    naming the file and each field at fault."""
    if path is None:
        return Scorecard()
    return load_config_file(path, Scorecard, what="QA scorecard",
                            missing="no such QA scorecard file", shape="criteria:, ...")


class ScoreIn(_Strict):
    score: int = Field(ge=0, le=100)
    comment: str | None = Field(None, max_length=2000)


class ReviewIn(_Strict):
    """A review as a supervisor sends it: a score for every criterion of the scorecard."""

    scores: dict[str, ScoreIn] = Field(min_length=1, max_length=50)
    comment: str | None = Field(None, max_length=5000)


@dataclass(slots=True, frozen=True)
class Scored:
    scores: list[dict[str, Any]]
    total: int  # hundredths of a percent


def score(scorecard: Scorecard, review: ReviewIn) -> Scored:
    """The review checked against the scorecard, with each criterion's weight and scale kept
    beside its score; raises InvalidPayload naming what is wrong."""
    known = {c.id: c for c in scorecard.criteria}
    unknown = sorted(set(review.scores) - set(known))
    if unknown:
        raise InvalidPayload(f"scores: no criterion {', '.join(map(repr, unknown))} in the "
                             "scorecard")
    missing = [c.id for c in scorecard.criteria if c.id not in review.scores]
    if missing:
        raise InvalidPayload(f"scores: give a score for {', '.join(missing)}")
    rows: list[dict[str, Any]] = []
    weighted = 0.0
    for criterion in scorecard.criteria:
        given = review.scores[criterion.id]
        if given.score > criterion.points:
            raise InvalidPayload(f"scores.{criterion.id}: at most {criterion.points}")
        rows.append({"criterion": criterion.id, "score": given.score,
                     "points": criterion.points, "weight": criterion.weight,
                     "comment": given.comment})
        weighted += criterion.weight * given.score / criterion.points
    total = weighted / sum(c.weight for c in scorecard.criteria)
    return Scored(rows, round(total * 10000))


def day_bounds(day: date) -> tuple[int, int]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


class QualityAssurance:
    def __init__(self, store: Store, scorecard: Scorecard | None = None) -> None:
        self.store = store
        self.scorecard = scorecard or Scorecard()

    async def review(self, reviewer: Agent, conversation_id: str,
                     review: ReviewIn) -> QaReview:
        scored = score(self.scorecard, review)
        return await self.store.save_review(conversation_id, reviewer_id=reviewer.id,
                                            scores=scored.scores, total=scored.total,
                                            comment=review.comment, now=now_ms())

    async def get(self, viewer: Agent, review_id: str) -> QaReview:
        found = await self.store.get_review(review_id)
        # An agent sees their own reviews only; to them, another's does not exist.
        if found is None or not (_supervises(viewer) or found.agent_id == viewer.id):
            raise NotFound("no such review")
        return found

    async def reviews(self, viewer: Agent, *, agent_id: str | None,
                      conversation_id: str | None, start: int | None, end: int | None,
                      limit: int) -> list[QaReview]:
        if not _supervises(viewer):
            if agent_id not in (None, viewer.id):
                raise Forbidden("an agent sees their own reviews only")
            agent_id = viewer.id
        return await self.store.list_reviews(agent_id=agent_id, conversation_id=conversation_id,
                                             start=start, end=end, limit=limit)

    async def sample(self, day: date) -> list[str]:
        """The conversations offered for review on `day`: a sample of those an agent
        resolved the day before, the same in every process (seeded by the date)."""
        start, end = day_bounds(day - timedelta(days=1))
        resolved = await self.store.resolved_by_agents(start, end)
        size = min(self.scorecard.daily_sample, len(resolved))
        return sorted(random.Random(day.isoformat()).sample(resolved, size))


def _supervises(agent: Agent) -> bool:
    return agent.role in (AgentRole.SUPERVISOR, AgentRole.ADMIN)
