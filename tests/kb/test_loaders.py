"""Loading a knowledge base from YAML, Markdown with front matter and CSV, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.kb import KBLoadError, kb_files, load_entries, load_kb


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_three_formats_in_one_folder_with_a_locale_subfolder(tmp_path: Path) -> None:
    write(tmp_path / "faq.yaml", """
entries:
  - id: shipping
    question: How long does shipping take?
    alternates: [Delivery time]
    answer: 2-4 **business** days.
    tags: [orders]
    team: logistics
    links: [{title: Tracking, url: "https://example.com/track"}]
""")
    write(tmp_path / "reset-password.md", """---
question: How do I reset my password?
alternates:
  - I forgot my password
category: Account
---
Use **Forgot password**.

It expires in an hour.
""")
    write(tmp_path / "more.csv", "id,question,alternates,answer,tags,team\n"
          'returns,How do I return an item?,Send it back|Refund,"Within 30 days,\nfree.",'
          "orders|money,\n")
    write(tmp_path / "es" / "envios.yaml", """
- id: shipping
  question: ¿Cuánto tarda el envío?
  answer: De 2 a 4 días.
""")
    write(tmp_path / "matcher.yaml", "answer_threshold: 0.6\n")
    entries = {(e.id, e.locale): e for e in load_entries(tmp_path)}
    assert set(entries) == {("shipping", "en"), ("reset-password", "en"), ("returns", "en"),
                            ("shipping", "es")}
    assert entries["shipping", "en"].team == "logistics"
    assert entries["shipping", "en"].links[0].title == "Tracking"
    md = entries["reset-password", "en"]
    assert md.answer == "Use **Forgot password**.\n\nIt expires in an hour."
    assert md.alternates == ("I forgot my password",) and md.category == "Account"
    csv_entry = entries["returns", "en"]
    assert csv_entry.alternates == ("Send it back", "Refund")
    assert csv_entry.tags == ("orders", "money") and csv_entry.team is None
    assert csv_entry.answer == "Within 30 days,\nfree."
    assert "matcher.yaml" not in {p.name for p in kb_files(tmp_path)}
    kb = load_kb(tmp_path)
    assert kb.config.answer_threshold == 0.6
    assert kb.locales == {"en", "es"}
    assert kb.get("shipping", "es-MX") == entries["shipping", "es"]


@pytest.mark.parametrize(("name", "text", "line", "message"), [
    ("kb.yaml", "entries: [", 1, "not valid YAML"),
    ("kb.yaml", "- {id: a, question: Open?, answer: x}\n", 1, "put text with ? : or , in quotes"),
    ("kb.yaml", "entries:\n  - id: a\n    question: q\n", 2, "answer: Field required"),
    ("kb.yaml", "entries:\n  - {id: a, question: q, answer: x}\n"
                "  - {id: b, question: q, answer: x, colour: red}\n", 3, "colour"),
    ("kb.yaml", "- just a string\n", 1, "must be a mapping"),
    ("kb.yaml", "locale: xx_not!\nentries:\n  - {id: a, question: q, answer: x}\n", 3,
     "locale"),
    ("kb.yaml", "entries:\n  - {id: 'bad id', question: q, answer: x}\n", 2, "id"),
    ("kb.yaml", "entries:\n  - {id: a, question: q, answer: x,"
                " links: [{title: t, url: 'javascript:alert(1)'}]}\n", 2, "url"),
    ("a.md", "no front matter\n", 1, "front matter"),
    ("a.md", "---\nquestion: q\n", 1, "closing"),
    ("a.md", "---\nquestion: q\nanswer: x\n---\nbody\n", 2, "text after the front matter"),
    ("a.md", "---\nquestion: q\nalternates: [\n---\nbody\n", 3, "not valid YAML"),
    ("kb.csv", "id,question\n", 1, "header"),
    ("kb.csv", "id,question,answer\na,q,x\nb,q\n", 3, "expected 3 columns"),
    ("kb.csv", "id,question,answer\na,q,x\n\nb,,x\n", 4, "question"),
    ("kb.csv", "", 1, "empty"),
])
def test_errors_name_the_file_and_line(tmp_path: Path, name: str, text: str, line: int,
                                       message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(KBLoadError) as caught:
        load_kb(path)
    assert any(p.startswith(f"{path}:{line}: ") and message in p
               for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "- {id: x, question: q, answer: a}\n- {id: y, question: q}\n")
    write(tmp_path / "b.yaml", "- {id: x, question: q, answer: a}\n")
    with pytest.raises(KBLoadError) as caught:
        load_kb(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 2
    assert any("a.yaml:2: answer" in p for p in problems)
    assert any("b.yaml:1: entry id 'x' (en) is already used at" in p and "a.yaml:1" in p
               for p in problems)


def test_missing_empty_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(KBLoadError, match="no such file"):
        load_kb(tmp_path / "missing.yaml")
    with pytest.raises(KBLoadError, match="no entries"):
        load_kb(tmp_path)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"- {id: a, question: caf\xe9, answer: x}\n")
    with pytest.raises(KBLoadError, match="not UTF-8"):
        load_kb(bad)
    with pytest.raises(KBLoadError, match="not a knowledge-base file"):
        load_kb(write(tmp_path / "kb.txt", "x"))


def test_matcher_settings_are_validated(tmp_path: Path) -> None:
    write(tmp_path / "kb.yaml", "- {id: a, question: q, answer: x}\n")
    write(tmp_path / "matcher.yaml", "answer_threshold: 0.2\nclarify_threshold: 0.4\n")
    with pytest.raises(Exception, match="clarify_threshold must not be above"):
        load_kb(tmp_path)
