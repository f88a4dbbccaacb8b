"""`chatkit kb eval`: the figures on a small KB worked out by hand, the questions file's
errors, the progress line, and the command run as a subprocess."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import sys
import time
from pathlib import Path

import pytest

from chatkit.kb import KBEntry, KnowledgeBase
from chatkit.kb.evaluate import (
    SUMMARY_KEYS,
    ProgressLine,
    Query,
    QueryFileError,
    evaluate,
    percentile,
    read_queries,
)

KB_YAML = """
entries:
  - id: shipping
    question: How long does shipping take?
    alternates: ["When will my order arrive?"]
    answer: 2-4 business days.
  - id: returns
    question: How do I return an item?
    alternates: [return policy]
    answer: Within 30 days.
  - id: password
    question: How do I reset my password?
    alternates: [I forgot my password]
    answer: Use Forgot password.
"""

# What each question does, worked out by hand (the lexical matcher, see kb_file): it is either
# a phrasing of an entry (which the matcher ranks first and answers) or shares no word with any
# entry (nothing found: declined).
QUESTIONS_CSV = """text,expected
How long does shipping take?,shipping
I forgot my password,password
How do I return an item?,shipping
return policy,password
When will my order arrive?,
zebra quantum xylophone,
purple elephants dancing,
"""
# 1-2: right first and answered right. 3: expects shipping, which shares "how" so is in the
# top three (a KB of three entries), but returns is first and answered: wrong. 4: password
# shares no word with "return policy": not even in the top three; answered returns: wrong.
# 5: should be declined but is answered (shipping): wrong. 6-7: declined.
EXPECTED = {"answerable": 4, "top1_accuracy": 2 / 4, "top3_accuracy": 3 / 4,
            "unanswerable": 3, "declined_rate": 2 / 3, "wrong_answer_rate": 3 / 7}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def kb_file(tmp_path: Path) -> Path:
    # Without word vectors the candidates are the entries that share a word with the
    # question, which is what the figures above were worked out from.
    write(tmp_path / "matcher.yaml", "word_vectors: false\n")
    return write(tmp_path / "faq.yaml", KB_YAML)


@pytest.fixture
def kb(kb_file: Path) -> KnowledgeBase:
    from chatkit.kb import load_kb

    return load_kb(kb_file)


def test_the_figures_on_a_small_kb(kb: KnowledgeBase, tmp_path: Path) -> None:
    queries = read_queries(write(tmp_path / "q.csv", QUESTIONS_CSV), kb)
    assert [q.line for q in queries] == [2, 3, 4, 5, 6, 7, 8]
    assert queries[4] == Query("When will my order arrive?", None, 6)
    done: list[int] = []
    result = evaluate(kb, queries, progress=done.append)
    assert done == [1, 2, 3, 4, 5, 6, 7]
    summary = result.summary()
    assert list(summary) == list(SUMMARY_KEYS)
    assert {k: summary[k] for k in EXPECTED} == EXPECTED
    assert (result.top1, result.top3, result.declined) == (2, 3, 2)
    assert [(w.query.line, w.answered) for w in result.wrong] == [
        (4, "returns"), (5, "returns"), (6, "shipping")]
    assert len(result.latencies_ms) == 7 and all(ms > 0 for ms in result.latencies_ms)
    assert result.p50_ms == percentile(result.latencies_ms, 50) <= result.p99_ms
    assert result.p99_ms == max(result.latencies_ms)  # 7 values: the 99th is the largest


def test_a_group_without_questions_has_no_rate(kb: KnowledgeBase) -> None:
    only_unanswerable = evaluate(kb, [Query("zebra quantum xylophone", None)])
    assert only_unanswerable.top1_accuracy is None and only_unanswerable.top3_accuracy is None
    assert only_unanswerable.declined_rate == 1.0 and only_unanswerable.wrong_answer_rate == 0
    only_answerable = evaluate(kb, [Query("return policy", "returns")])
    assert only_answerable.declined_rate is None and only_answerable.top1_accuracy == 1.0


def test_evaluate_checks_its_arguments(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="no questions"):
        evaluate(kb, [])
    with pytest.raises(ValueError, match="'refunds'"):
        evaluate(kb, [Query("money back", "refunds")])


def test_locale_selects_the_entries(tmp_path: Path) -> None:
    kb = KnowledgeBase([
        KBEntry(id="shipping", question="How long does shipping take?", answer="2-4 days."),
        KBEntry(id="envio", question="¿Cuánto tarda el envío?", answer="2-4 días.",
                locale="es"),
    ])
    path = write(tmp_path / "es.csv", "text,expected\ncuanto tarda el envio,envio\n")
    result = evaluate(kb, read_queries(path, kb, locale="es-MX"), locale="es-MX")
    assert result.top1_accuracy == 1.0 and not result.wrong
    with pytest.raises(QueryFileError, match=r"es.csv:2: expected entry 'envio' is not"):
        read_queries(path, kb)  # the default locale, English, has no such entry


def test_percentile_is_nearest_rank() -> None:
    hundred = [float(n) for n in range(100, 0, -1)]
    assert (percentile(hundred, 50), percentile(hundred, 99), percentile(hundred, 100)) == (
        50.0, 99.0, 100.0)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0 and percentile([3.0, 1.0, 2.0], 99) == 3.0
    assert percentile([7.0], 1) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 0)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("text\nhow long\n", 1, "must name the columns text,expected (missing: expected)"),
    ("question,expected\nhow long,shipping\n", 1, "(missing: text)"),
    ("text,expected\nhow long,shiping\n", 2,
     "expected entry 'shiping' is not in the knowledge base (did you mean 'shipping'?)"),
    ("text,expected\n  ,shipping\n", 2, "the text is empty"),
    ('text,expected\n"two\nlines",shipping\n\n,returns\n', 5, "the text is empty"),
    ("text,expected\nwhere is it, my parcel,shipping\n", 2, "expected 2 cells, found 3"),
    ("text,expected\n", 2, "no questions after the header"),
    ("", 1, "the file is empty"),
    ('text,expected\n"unclosed,shipping\n', 2, "not valid CSV"),
])
def test_file_errors_name_the_file_and_line(kb: KnowledgeBase, tmp_path: Path, text: str,
                                            line: int, message: str) -> None:
    path = write(tmp_path / "q.csv", text)
    with pytest.raises(QueryFileError) as caught:
        read_queries(path, kb)
    assert any(p.startswith(f"{path}:{line}: ") and message in p
               for p in caught.value.problems), caught.value.problems


def test_every_problem_at_once_and_unreadable_files(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", "text,expected\n,shipping\nok,nope\nfine,returns\n")
    with pytest.raises(QueryFileError) as caught:
        read_queries(path, kb)
    assert caught.value.problems == [
        f"{path}:2: the text is empty",
        f"{path}:3: expected entry 'nope' is not in the knowledge base"]
    with pytest.raises(QueryFileError, match="cannot read"):
        read_queries(tmp_path / "missing.csv")
    with pytest.raises(QueryFileError, match=r"q-latin1.csv:1: not UTF-8"):
        read_queries(write(tmp_path / "q-latin1.csv", "text,expected\nenvío,\n", "latin-1"))


def test_spreadsheet_exports_are_read(tmp_path: Path) -> None:
    """A byte-order mark, header case and spaces, extra columns, blank lines, no KB check."""
    path = write(tmp_path / "q.csv", "\ufeffText , Notes,EXPECTED\n"
                 "how long,from chat 12, shipping \n\n\"hi, there\",,\n")
    assert read_queries(path) == [Query("how long", "shipping", 2),
                                  Query("hi, there", None, 4)]


def test_progress_line_on_a_terminal_is_redrawn_and_erased() -> None:
    master, replica = os.openpty()
    try:
        with open(replica, "w", encoding="utf-8", closefd=False) as terminal:
            assert terminal.isatty()
            with ProgressLine(4, terminal, delay=0) as progress:
                progress(1)
                time.sleep(0.15)  # redrawn at most every 0.1 s
                progress(2)
        shown = b""
        while select.select([master], [], [], 0.5)[0]:
            shown += os.read(master, 65536)
    finally:
        os.close(master)
        os.close(replica)
    frames = shown.decode().split("\r")
    assert frames[1].startswith("kb eval [########") and "1/4 (25%)" in frames[1]
    assert "2/4 (50%)" in frames[2]
    assert frames[3].strip() == "" and frames[4] == ""  # erased, the cursor back at the start


def test_progress_line_elsewhere_writes_plain_lines_only_on_long_runs() -> None:
    log = io.StringIO()
    with ProgressLine(3, log) as progress:  # not a terminal, a short run: nothing
        for done in range(1, 4):
            progress(done)
    assert log.getvalue() == ""
    with ProgressLine(3, log, label="eval", log_every=0) as progress:
        progress(1)
        progress(3)
    assert log.getvalue() == "eval: 1/3 (33%) 0 s\neval: 3/3 (100%) 0 s\n"


async def chatkit(*args: str, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatkit", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_json(kb_file: Path, tmp_path: Path) -> None:
    write(tmp_path / "q.csv", QUESTIONS_CSV)
    code, out, err = await chatkit("kb", "eval", "faq.yaml", "q.csv", "--json", cwd=tmp_path)
    assert (code, err) == (0, "")  # not a terminal and short: no progress line
    summary = json.loads(out)
    assert list(summary) == list(SUMMARY_KEYS)
    assert {k: summary[k] for k in EXPECTED} == EXPECTED
    assert 0 < summary["p50_ms"] <= summary["p99_ms"]


async def test_cli_text(kb_file: Path, tmp_path: Path) -> None:
    write(tmp_path / "q.csv", QUESTIONS_CSV)
    code, out, err = await chatkit("kb", "eval", "faq.yaml", "q.csv", cwd=tmp_path)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:7] == [
        "knowledge base faq.yaml: 3 entries (en)",
        "7 questions: 4 answerable, 3 unanswerable",
        "top-1 accuracy     0.500  2 of 4 answerable have the expected entry first",
        "top-3 accuracy     0.750  3 of 4 answerable have it in the first three",
        "declined           0.667  2 of 3 unanswerable were not answered",
        "answered wrongly   0.429  3 of 7 were answered with another entry",
        lines[6]]
    assert lines[6].startswith("latency            p50 ") and lines[6].endswith("(kb.answer)")
    assert lines[8:] == [
        "answered wrongly (3 of 3 shown):",
        "  q.csv:4: 'How do I return an item?': expected shipping, answered returns",
        "  q.csv:5: 'return policy': expected password, answered returns",
        "  q.csv:6: 'When will my order arrive?': expected (decline), answered shipping"]


@pytest.mark.parametrize(("files", "message"), [
    ({"q.csv": "text\nhow long\n"}, "q.csv:1: the header must name the columns"),
    ({"q.csv": "text,expected\nhow long,nope\n"}, "q.csv:2: expected entry 'nope'"),
    ({"q.csv": "text,expected\n,shipping\n"}, "q.csv:2: the text is empty"),
    ({"q.csv": QUESTIONS_CSV, "faq.yaml": "entries:\n  - id: x\n    question: y\n"},
     "faq.yaml:2: answer: Field required"),
])
async def test_cli_errors_exit_2_and_print_nothing_else(kb_file: Path, tmp_path: Path,
                                                        files: dict[str, str],
                                                        message: str) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    code, out, err = await chatkit("kb", "eval", "faq.yaml", "q.csv", "--json", cwd=tmp_path)
    assert code == 2 and out == ""
    assert err.startswith("chatkit: ") and message in err and "Traceback" not in err
