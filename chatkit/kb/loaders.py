"""Read knowledge-base entries from YAML, Markdown with front matter, or CSV.

A knowledge base is a file or a folder of files. Every problem is reported as
`path:line: what is wrong`, all of a file's problems at once, so a business can fix its KB in
one pass. Blocking file I/O: call these in a thread from async code.

    entries.yaml   entries: [{id, question, alternates, answer, tags, team, category, links}]
                   (a top-level `locale:` applies to entries that name none)
    some-id.md     ---
                   question: How do I ...?          (id defaults to the file's name)
                   alternates: [...]
                   ---
                   The answer, in Markdown.
    faq.csv        id,question,alternates,answer,tags,team  (alternates and tags split on |;
                   optional columns: category, locale)

In a folder, a first-level subfolder named like a locale (`es/`, `pt-BR/`) gives the locale of
the entries under it that name none."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from chatkit.errors import ConfigError
from chatkit.kb.entries import KBEntry, normalise_locale

SUFFIXES = frozenset({".yaml", ".yml", ".md", ".csv"})
SETTINGS_FILE = "matcher.yaml"  # the matcher's settings in a KB folder, not entries
CSV_COLUMNS = ("id", "question", "alternates", "answer", "tags", "team")
CSV_OPTIONAL = ("category", "locale")
MAX_PROBLEMS = 50


class KBLoadError(ConfigError):
    """The knowledge base has problems; `problems` lists each as `path:line: message`."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more" if more else "")
        super().__init__(f"the knowledge base has {len(problems)} problem(s):\n{text}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Raw:
    """One entry as read, before validation, with where it came from."""

    data: dict[str, Any]
    path: Path
    line: int


def load_entries(path: Path) -> list[KBEntry]:
    """Every entry under `path` (a file or a folder), validated; raises KBLoadError."""
    if not path.exists():
        raise KBLoadError([f"{path}: no such file or folder"])
    files = kb_files(path)
    if path.is_file() and path.suffix.lower() not in SUFFIXES:
        raise KBLoadError([f"{path}: not a knowledge-base file (use .yaml, .md or .csv)"])
    problems: list[str] = []
    entries: list[KBEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        default_locale = _folder_locale(path, file)
        try:
            raws = list(_read(file))
        except _FileProblem as exc:
            problems.append(f"{file}:{exc.line}: {exc}")
            continue
        for raw in raws:
            data = dict(raw.data)
            if default_locale and "locale" not in data:
                data["locale"] = default_locale
            try:
                entry = KBEntry.model_validate(data)
            except ValidationError as exc:
                problems.extend(f"{raw.path}:{raw.line}: {_describe(err)}" for err in exc.errors())
                continue
            key = (entry.id, entry.locale)
            where = f"{raw.path}:{raw.line}"
            if key in seen:
                problems.append(f"{where}: entry id {entry.id!r} ({entry.locale}) is already "
                                f"used at {seen[key]}")
                continue
            seen[key] = where
            entries.append(entry)
    if problems:
        raise KBLoadError(problems)
    return entries


def kb_files(path: Path) -> list[Path]:
    """The files a knowledge base at `path` is read from (what a watcher should watch)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and p.name != SETTINGS_FILE
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


class _FileProblem(Exception):
    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def _folder_locale(root: Path, file: Path) -> str | None:
    if root.is_file():
        return None
    parts = file.relative_to(root).parts
    if len(parts) < 2:
        return None
    try:
        return normalise_locale(parts[0])
    except ValueError:
        return None


def _read(file: Path) -> Iterator[_Raw]:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _FileProblem(f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise _FileProblem(f"cannot read: {exc.strerror}") from exc
    suffix = file.suffix.lower()
    if suffix in (".yaml", ".yml"):
        yield from _read_yaml(file, text)
    elif suffix == ".md":
        yield _read_markdown(file, text)
    else:
        yield from _read_csv(file, text)


def _compose(text: str, line_offset: int = 0) -> tuple[Any, yaml.Node | None]:
    """Parse YAML keeping the nodes, whose marks give each value's line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    except yaml.MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1 if exc.problem_mark else 1) + line_offset
        problem = str(exc.problem or exc)
        if "expected ','" in problem:
            # The usual cause: a question mark or colon inside [ ... ] or { ... }.
            problem += " (inside [ ] or { }, put text with ? : or , in quotes)"
        raise _FileProblem(f"not valid YAML: {problem}", line) from exc
    finally:
        loader.dispose()


def _read_yaml(file: Path, text: str) -> Iterator[_Raw]:
    data, node = _compose(text)
    locale = None
    items_node: yaml.Node | None = node
    if isinstance(data, dict):
        unknown = set(data) - {"entries", "locale"}
        if unknown or "entries" not in data:
            raise _FileProblem("expected a list of entries, or a mapping with 'entries' "
                               f"(and optionally 'locale'); found keys {sorted(map(str, data))}")
        locale = data.get("locale")
        data = data["entries"]
        assert isinstance(node, yaml.MappingNode)
        items_node = next(v for k, v in node.value if k.value == "entries")
    if not isinstance(data, list) or not isinstance(items_node, yaml.SequenceNode):
        raise _FileProblem("expected a list of entries")
    for item, item_node in zip(data, items_node.value, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            raise _FileProblem("each entry must be a mapping with id, question and answer",
                               line)
        if locale is not None and "locale" not in item:
            item = {**item, "locale": locale}
        yield _Raw(item, file, line)


def _read_markdown(file: Path, text: str) -> _Raw:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise _FileProblem("expected front matter: a first line '---', the entry's fields "
                           "in YAML, then '---' and the answer")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise _FileProblem("the front matter has no closing '---'") from None
    data, _ = _compose("\n".join(lines[1:end]), line_offset=1)
    if not isinstance(data, dict):
        raise _FileProblem("the front matter must be a mapping of the entry's fields", 2)
    if "answer" in data:
        raise _FileProblem("the answer is the text after the front matter, not a field", 2)
    return _Raw({"id": file.stem, **data, "answer": "\n".join(lines[end + 1:]).strip()},
                file, 1)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def _read_csv(file: Path, text: str) -> Iterator[_Raw]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration:
        raise _FileProblem("the file is empty; expected a header "
                           + ",".join(CSV_COLUMNS)) from None
    except csv.Error as exc:
        raise _FileProblem(f"not valid CSV: {exc}") from exc
    missing = [c for c in ("id", "question", "answer") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS + CSV_OPTIONAL]
    if missing or unknown:
        raise _FileProblem(f"the header must name the columns {','.join(CSV_COLUMNS)} "
                           f"(missing {missing}, unknown {unknown})")
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _FileProblem(f"not valid CSV: {exc}", start) from exc
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _FileProblem(f"expected {len(header)} columns, found {len(row)}", line)
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        data: dict[str, Any] = {k: v for k, v in cells.items() if v}
        for column in ("alternates", "tags"):
            if column in data:
                data[column] = _split(data[column])
        yield _Raw(data, file, line)
