"""The QA scorecard file: the example validates; mistakes are refused with the field named;
the weighted total."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.errors import ConfigError, InvalidPayload
from chatkit.reports.qa import ReviewIn, Scorecard, load_scorecard, score

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qa.yaml"


def test_the_example_scorecard_loads() -> None:
    card = load_scorecard(EXAMPLE)
    assert [c.id for c in card.criteria] == ["greeting", "verification", "resolution", "tone"]
    assert card.daily_sample == 10
    assert load_scorecard(None) == Scorecard()


@pytest.mark.parametrize(("text", "problem"), [
    ("criteria: []", "criteria"),
    ("criteria: [{id: a, label: A, weight: 0}]", "weight"),
    ("criteria: [{id: a, label: A, weight: 1}, {id: a, label: B, weight: 1}]", "each id once"),
    ("criteria: [{id: 'No Caps', label: A, weight: 1}]", "id"),
    ("daily_sample: -1", "daily_sample"),
    ("colour: red", "colour"),
])
def test_mistakes_are_refused_naming_the_field(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_scorecard(path)


def test_the_total_is_the_weighted_mean_of_the_scores() -> None:
    card = load_scorecard(EXAMPLE)
    review = ReviewIn.model_validate({"scores": {
        "greeting": {"score": 5}, "verification": {"score": 0, "comment": "skipped"},
        "resolution": {"score": 4}, "tone": {"score": 3}}})
    scored = score(card, review)
    expected = (1 * 5 / 5 + 2 * 0 / 1 + 4 * 4 / 5 + 2 * 3 / 5) / 9
    assert scored.total == round(expected * 10000)
    assert scored.scores[1] == {"criterion": "verification", "score": 0, "points": 1,
                                "weight": 2.0, "comment": "skipped"}
    with pytest.raises(InvalidPayload, match="verification: at most 1"):
        score(card, ReviewIn.model_validate({"scores": {
            "greeting": {"score": 5}, "verification": {"score": 2},
            "resolution": {"score": 4}, "tone": {"score": 3}}}))
    with pytest.raises(InvalidPayload, match="no criterion 'speed'"):
        score(card, ReviewIn.model_validate({"scores": {"speed": {"score": 1}}}))
