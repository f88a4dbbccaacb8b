"""Test a knowledge base against real customer questions.

    kb = load_kb(Path("kb/"))
    queries = read_queries(Path("questions.csv"), kb)   # columns text,expected
    result = evaluate(kb, queries)
    result.top1_accuracy, result.declined_rate, result.wrong_answer_rate, result.p99_ms

`chatkit kb eval KB QUERIES.csv [--json]` does the same from the command line.

A question's `expected` is the id of the entry that answers it, or empty when the knowledge
base should not answer it. The figures:

- top-1 / top-3 accuracy: of the answerable questions, the share whose expected entry is
  `kb.search`'s first / among its first three (how good the ranking is);
- declined rate: of the unanswerable questions, the share `kb.answer` did not answer
  (asking the visitor to clarify counts as declining);
- wrong-answer rate: of all questions, the share `kb.answer` answered with an entry other than
  the expected one (for an unanswerable question, any answer is wrong);
- p50 / p99: the latency of `kb.answer`, per question, in milliseconds.

Blocking CPU work: from async code, run it in a thread."""

from __future__ import annotations

import csv
import difflib
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from chatkit.errors import ConfigError
from chatkit.kb.knowledge import DecisionKind, KnowledgeBase

COLUMNS = ("text", "expected")
MAX_PROBLEMS = 50
SUMMARY_KEYS = ("answerable", "top1_accuracy", "top3_accuracy", "unanswerable",
                "declined_rate", "wrong_answer_rate", "p50_ms", "p99_ms")


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    expected: str | None  # the entry id that answers it; None: the KB should decline
    line: int = 0          # its line in the questions file (0: not from a file)


@dataclass(frozen=True, slots=True)
class WrongAnswer:
    query: Query
    answered: str  # the id of the entry kb.answer gave


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What `evaluate` measured. Counts are of questions; a rate whose group is empty (no
    answerable or no unanswerable questions) is None."""

    answerable: int
    unanswerable: int
    top1: int                         # answerable, expected entry ranked first
    top3: int                         # answerable, expected entry in the first three
    declined: int                     # unanswerable, not answered
    wrong: tuple[WrongAnswer, ...]    # answered with another entry, in question order
    latencies_ms: tuple[float, ...]   # kb.answer, per question, in question order

    @property
    def total(self) -> int:
        return self.answerable + self.unanswerable

    @property
    def top1_accuracy(self) -> float | None:
        return _share(self.top1, self.answerable)

    @property
    def top3_accuracy(self) -> float | None:
        return _share(self.top3, self.answerable)

    @property
    def declined_rate(self) -> float | None:
        return _share(self.declined, self.unanswerable)

    @property
    def wrong_answer_rate(self) -> float:
        return len(self.wrong) / self.total

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    def summary(self) -> dict[str, int | float | None]:
        """The figures as `chatkit kb eval --json` prints them (keys: SUMMARY_KEYS)."""
        return {"answerable": self.answerable, "top1_accuracy": self.top1_accuracy,
                "top3_accuracy": self.top3_accuracy, "unanswerable": self.unanswerable,
                "declined_rate": self.declined_rate,
                "wrong_answer_rate": self.wrong_answer_rate,
                "p50_ms": round(self.p50_ms, 4), "p99_ms": round(self.p99_ms, 4)}

    def report(self, source: str = "", show_wrong: int = 10) -> str:
        """The figures for people, with the first `show_wrong` wrong answers."""

        def rate(value: float | None) -> str:
            return "  n/a" if value is None else f"{value:.3f}"

        lines = [
            f"{self.total} questions: {self.answerable} answerable, "
            f"{self.unanswerable} unanswerable",
            f"top-1 accuracy     {rate(self.top1_accuracy)}  {self.top1} of {self.answerable} "
            "answerable have the expected entry first",
            f"top-3 accuracy     {rate(self.top3_accuracy)}  {self.top3} of {self.answerable} "
            "answerable have it in the first three",
            f"declined           {rate(self.declined_rate)}  {self.declined} of "
            f"{self.unanswerable} unanswerable were not answered",
            f"answered wrongly   {rate(self.wrong_answer_rate)}  {len(self.wrong)} of "
            f"{self.total} were answered with another entry",
            f"latency            p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms "
            "(kb.answer)",
        ]
        if self.wrong and show_wrong > 0:
            shown = self.wrong[:show_wrong]
            lines.append(f"\nanswered wrongly ({len(shown)} of {len(self.wrong)} shown):")
            for wrong in shown:
                query = wrong.query
                where = f"{source}:{query.line}: " if source and query.line else ""
                lines.append(f"  {where}{query.text!r}: expected "
                             f"{query.expected or '(decline)'}, answered {wrong.answered}")
        return "\n".join(lines)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least q% of values at or
    below it (always one of the values)."""
    if not values:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


def evaluate(kb: KnowledgeBase, queries: Sequence[Query], *, locale: str | None = None,
             progress: Callable[[int], None] | None = None) -> Evaluation:
    """Run every query through `kb.search` (ranking) and `kb.answer` (the decision, timed).
    `progress(done)` is called after each query. Raises ValueError when there are no queries
    or one expects an entry the KB does not have."""
    if not queries:
        raise ValueError("no questions to evaluate")
    for query in queries:
        if query.expected is not None and kb.get(query.expected, locale) is None:
            raise ValueError(f"{query.text!r} expects entry {query.expected!r}, which is not "
                             "in the knowledge base")
    top1 = top3 = declined = 0
    wrong: list[WrongAnswer] = []
    latencies: list[float] = []
    for done, query in enumerate(queries, start=1):
        ranked = [m.entry.id for m in kb.search(query.text, limit=3, locale=locale)]
        started = time.perf_counter()
        decision = kb.answer(query.text, locale=locale)
        latencies.append((time.perf_counter() - started) * 1000)
        answered = (decision.best.entry.id
                    if decision.kind is DecisionKind.ANSWER and decision.best else None)
        if query.expected is None:
            declined += answered is None
        else:
            top1 += ranked[:1] == [query.expected]
            top3 += query.expected in ranked
        if answered is not None and answered != query.expected:
            wrong.append(WrongAnswer(query, answered))
        if progress is not None:
            progress(done)
    answerable = sum(q.expected is not None for q in queries)
    return Evaluation(answerable=answerable, unanswerable=len(queries) - answerable,
                      top1=top1, top3=top3, declined=declined, wrong=tuple(wrong),
                      latencies_ms=tuple(latencies))


class QueryFileError(ConfigError):
    """The questions file has problems; `problems` lists each as `path:line: message`."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more" if more else "")
        super().__init__(f"the questions file has {len(problems)} problem(s):\n{text}")
        self.problems = problems


def read_queries(path: Path, kb: KnowledgeBase | None = None, *,
                 locale: str | None = None) -> list[Query]:
    """Read a CSV with the columns `text,expected` (others are ignored). With `kb`, every
    expected id must be one of its entries (in `locale`). Raises QueryFileError listing every
    problem as `path:line: message`. Blocking file I/O."""
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QueryFileError([f"{path}:1: not UTF-8 text ({exc.reason})"]) from exc
    except OSError as exc:
        raise QueryFileError([f"{path}: cannot read: {exc.strerror}"]) from exc
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        raise QueryFileError([f"{path}:1: the file is empty; expected a header "
                              f"{','.join(COLUMNS)}"]) from None
    except csv.Error as exc:
        raise QueryFileError([f"{path}:1: not valid CSV: {exc}"]) from exc
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise QueryFileError([f"{path}:1: the header must name the columns "
                              f"{','.join(COLUMNS)} (missing: {', '.join(missing)})"])
    text_at, expected_at = header.index("text"), header.index("expected")
    known = None if kb is None else {e.id for e in kb.entries_in(locale)}
    problems: list[str] = []
    queries: list[Query] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{path}:{start}: not valid CSV: {exc}")
            break
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{path}:{line}: expected {len(header)} cells, found {len(row)} "
                            "(quote a question that contains a comma)")
            continue
        question, expected = row[text_at].strip(), row[expected_at].strip()
        if not question:
            problems.append(f"{path}:{line}: the text is empty")
            continue
        if known is not None and expected and expected not in known:
            close = difflib.get_close_matches(expected, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{path}:{line}: expected entry {expected!r} is not in the "
                            f"knowledge base{hint}")
            continue
        queries.append(Query(question, expected or None, line))
    if not problems and not queries:
        problems.append(f"{path}:{start}: no questions after the header")
    if problems:
        raise QueryFileError(problems)
    return queries


class ProgressLine:
    """A progress bar on one line of `stream`, without dependencies, for runs long enough to
    need one. On a terminal it appears once the run has taken `delay` seconds and is redrawn
    in place (`\\r`) a few times a second; elsewhere (a log, a pipe) a plain line is written
    every `log_every` seconds, so short runs write nothing. `close()` (or leaving the `with`
    block) erases the bar."""

    def __init__(self, total: int, stream: TextIO, *, label: str = "kb eval",
                 delay: float = 0.5, log_every: float = 10.0) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self._next = self.started + (delay if self.tty else log_every)
        self._every = 0.1 if self.tty else log_every
        self._width = 0  # of the bar on screen, to erase it

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every
        share = done / self.total if self.total else 1.0
        status = f"{done}/{self.total} ({share:.0%}) {now - self.started:.0f} s"
        if self.tty:
            filled = round(30 * share)
            line = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {status}"
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(f"{self.label}: {status}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
