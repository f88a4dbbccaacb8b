from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.errors import ConfigError
from chatkit.kb import load_kb


def test_demo_kb_answers_paraphrases_and_declines_the_unrelated() -> None:
    kb = load_kb()
    match = kb.answer("how long does delivery take?")
    assert match is not None and match.entry.id == "shipping-time"
    match = kb.answer("i forgot my password")
    assert match is not None and match.entry.id == "reset-password"
    assert kb.answer("what is the capital of mongolia") is None
    assert kb.answer("do you ship to norway?") is None
    match = kb.answer("I want to return my boots")
    assert match is not None and match.entry.id == "returns"
    assert kb.search("") == []


@pytest.mark.parametrize(("text", "message"), [
    ("entries: [", "not valid YAML"),
    ("entries:\n  - id: a\n    question: q\n", "entries.0.answer: Field required"),
    ("entries:\n  - {id: a, question: q, answer: x, colour: red}\n", "colour"),
    ("- just a list\n", "Input should be a valid dictionary"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_kb(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_kb(tmp_path / "missing.yaml")


def test_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text("entries:\n  - {id: a, question: q, answer: x}\n"
                    "  - {id: a, question: r, answer: y}\n")
    with pytest.raises(ConfigError, match="unique"):
        load_kb(path)
