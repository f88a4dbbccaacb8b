"""Knowledge-base matcher benchmark on CLINC150: chatkit's matcher against plain rapidfuzz.

    .venv/bin/python bench/kb.py            # full test split; latency at 1k, 10k, 100k entries
    .venv/bin/python bench/kb.py --quick    # smoke run: samples, 1k and 2k entries, seconds
    .venv/bin/python bench/kb.py --json     # the same figures as one JSON object on stdout

The knowledge base: one entry per CLINC150 intent (150), whose question and alternates are the
intent's first 10 training phrasings in file order. Scored on the test split (4,500 in-scope
questions) and on oos_test (1,000 out-of-scope questions, which should be declined):

- top-1 / top-3 accuracy in scope, from `kb.search`;
- answered correctly at 80 % declined: the confidence threshold that declines 80 % of oos_test
  (a top match at or below it is declined) and the share of in-scope questions whose top match
  is right and above it;
- declined rate (of oos_test) and wrong-answer rate (of all questions) at the KB's own
  thresholds, from `kb.answer`, as `chatkit kb eval` counts them (chatkit.kb.evaluate);
- the same accuracy figures for plain rapidfuzz over all phrasings (best phrasing's entry;
  token_set_ratio, WRatio and token_sort_ratio with default_process; score / 100 as the
  confidence).

Latency against size: the KB grows to 1k, 10k and 100k entries, first with CLINC's remaining
training phrasings (three per entry, intents taken in turn: 4,500 entries), then with synthetic
entries (seeded): 1-4 phrasings each, made by joining the start of one CLINC phrasing to the end
of another, often naming a made-up product, the way a large catalogue's FAQ does. Per size:
the time to make the entries (pydantic validation, as a loader does) and to build the
KnowledgeBase, then `kb.search(q, limit=5)` and rapidfuzz `process.extractOne` over every
phrasing (pre-processed once with default_process; the scorer with the best top-1 above unless
`--baseline-scorer` says otherwise) timed one after the other on the same questions, so both
see the same machine noise: p50/p99 and chatkit / rapidfuzz ratios.

Bounded: every loop runs over a fixed list; the rapidfuzz side also stops after
`--baseline-seconds` per size. Nothing is written outside stdout/stderr. Exit 1 only when the
data is missing or a run fails, not when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from chatkit.kb import KBEntry, KnowledgeBase
from chatkit.kb.evaluate import Query, evaluate, percentile

DATA = Path(os.environ.get("CHATKIT_CLINC150", "/work/shared/data/clinc150/data_full.json"))
PHRASINGS_PER_INTENT = 10  # the base KB's question + alternates
EXTRA_PHRASINGS = 3        # per entry made from the remaining training phrasings
DECLINE_SHARE = 0.80       # of oos_test, for "answered correctly at 80 % declined"

TARGET_TOP1 = 0.85
TARGET_ANSWERED_AT_80 = 0.80
TARGET_P99_MS = {10_000: 2.0, 100_000: 10.0}

Scorer = Callable[..., float]
SCORERS: dict[str, Scorer] = {"token_set_ratio": fuzz.token_set_ratio, "WRatio": fuzz.WRatio,
                              "token_sort_ratio": fuzz.token_sort_ratio}


@dataclass(frozen=True, slots=True)
class Clinc:
    train: dict[str, list[str]]   # intent -> phrasings, in file order
    test: list[tuple[str, str]]   # (text, intent)
    oos_test: list[str]


def load_clinc(path: Path) -> Clinc:
    raw = json.loads(path.read_text(encoding="utf-8"))
    train: dict[str, list[str]] = {}
    for text, intent in raw["train"]:
        train.setdefault(intent, []).append(text)
    return Clinc(train, [(t, i) for t, i in raw["test"]], [t for t, _ in raw["oos_test"]])


def entry(entry_id: str, phrasings: Sequence[str]) -> KBEntry:
    return KBEntry(id=entry_id, question=phrasings[0], alternates=tuple(phrasings[1:]),
                   answer=f"The answer to {entry_id}.")


def base_entries(clinc: Clinc) -> list[KBEntry]:
    return [entry(intent, texts[:PHRASINGS_PER_INTENT]) for intent, texts in clinc.train.items()]


# ---- accuracy ------------------------------------------------------------------------------

def threshold_for(oos_confidences: Sequence[float], share: float) -> float:
    """The confidence at or below which `share` of the out-of-scope questions fall."""
    return percentile(oos_confidences, share * 100)


def answered_at(in_scope: Sequence[tuple[bool, float]], threshold: float) -> float:
    """Share of in-scope questions whose top match is right and above `threshold`."""
    return sum(right and c > threshold for right, c in in_scope) / len(in_scope)


def chatkit_accuracy(kb: KnowledgeBase, test: Sequence[tuple[str, str]],
                     oos: Sequence[str]) -> dict[str, Any]:
    queries = [Query(t, i) for t, i in test] + [Query(t, None) for t in oos]
    result = evaluate(kb, queries)
    in_scope = []
    for text, intent in test:
        best = kb.search(text, limit=1)
        in_scope.append((bool(best) and best[0].entry.id == intent,
                         best[0].confidence if best else 0.0))
    oos_conf = [(best[0].confidence if (best := kb.search(t, limit=1)) else 0.0) for t in oos]
    threshold = threshold_for(oos_conf, DECLINE_SHARE)
    return {
        "top1": result.top1_accuracy, "top3": result.top3_accuracy,
        "threshold_at_80": threshold,
        "oos_declined_at_threshold": sum(c <= threshold for c in oos_conf) / len(oos_conf),
        "answered_correctly_at_80": answered_at(in_scope, threshold),
        "declined_rate": result.declined_rate, "wrong_answer_rate": result.wrong_answer_rate,
        "answer_p50_ms": result.p50_ms, "answer_p99_ms": result.p99_ms,
        "thresholds": {"answer": kb.config.answer_threshold,
                       "clarify": kb.config.clarify_threshold},
    }


def rapidfuzz_accuracy(entries: Sequence[KBEntry], test: Sequence[tuple[str, str]],
                       oos: Sequence[str]) -> dict[str, dict[str, float]]:
    """extractOne over all phrasings (done as one cdist: the same best phrasing, ties to the
    first), per scorer. Every base entry has the same number of phrasings, so the best per
    entry is a reshape."""
    phrasings = [p for e in entries for p in e.phrasings]
    per_entry = len(entries[0].phrasings)
    ids = np.array([e.id for e in entries])
    expected = np.array([i for _, i in test])
    found: dict[str, dict[str, float]] = {}
    for name, scorer in SCORERS.items():
        def best(texts: Sequence[str], scorer: Scorer = scorer) -> npt.NDArray[np.float32]:
            scores = np.asarray(process.cdist(texts, phrasings, scorer=scorer,
                                              processor=default_process, workers=-1),
                                dtype=np.float32)
            best_per_entry: npt.NDArray[np.float32] = scores.reshape(
                len(texts), len(entries), per_entry).max(axis=2) / 100
            return best_per_entry

        in_scope = best([t for t, _ in test])
        ranked = np.argsort(-in_scope, axis=1, kind="stable")[:, :3]
        top1_right = ids[ranked[:, 0]] == expected
        oos_conf = best(oos).max(axis=1).tolist()
        threshold = threshold_for(oos_conf, DECLINE_SHARE)
        pairs = list(zip(top1_right.tolist(), in_scope.max(axis=1).tolist(), strict=True))
        found[name] = {
            "top1": float(top1_right.mean()),
            "top3": float((ids[ranked] == expected[:, None]).any(axis=1).mean()),
            "threshold_at_80": threshold,
            "answered_correctly_at_80": answered_at(pairs, threshold),
        }
    return found


# ---- bigger knowledge bases ----------------------------------------------------------------

_SYLLABLES = ("ka", "ro", "mi", "ven", "tal", "sor", "blu", "nex", "qua", "zen", "fi", "lo",
              "dra", "mon", "pel", "vit", "cor", "ax", "tri", "ul", "sen", "dor", "ly", "bra",
              "kin", "mar", "os", "pra", "tev", "gil")
_MODELS = ("", "", "", " pro", " mini", " max", " plus", " 2", " 3", " x", " lite", " air")


def clinc_rest_entries(clinc: Clinc) -> Iterator[KBEntry]:
    """Entries from each intent's phrasings after the base KB's, three per entry, taking the
    intents in turn so that any prefix covers them all."""
    chunks = {intent: [texts[i:i + EXTRA_PHRASINGS]
                       for i in range(PHRASINGS_PER_INTENT, len(texts), EXTRA_PHRASINGS)]
              for intent, texts in clinc.train.items()}
    for round_ in range(max(len(c) for c in chunks.values())):
        for intent, intent_chunks in chunks.items():
            if round_ < len(intent_chunks):
                yield entry(f"{intent}-{round_ + 1}", intent_chunks[round_])


def synthetic_entries(clinc: Clinc, seed: int) -> Iterator[KBEntry]:
    """Endless, seeded: each entry joins heads of one intent's phrasings to tails of another's,
    1-4 phrasings; half the entries are about a made-up product that every phrasing names."""
    rng = random.Random(seed)
    intents = list(clinc.train)
    words = {intent: [t.split() for t in texts] for intent, texts in clinc.train.items()}
    n = 0
    while True:
        n += 1
        topic, twist = rng.sample(intents, 2)
        product = None
        if rng.random() < 0.5:
            product = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
            product += rng.choice(_MODELS)
        phrasings: list[str] = []
        for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
            head, tail = rng.choice(words[topic]), rng.choice(words[twist])
            # At least two words of the head and one of the tail.
            parts = (head[:max(2, rng.randint(len(head) // 3, max(1, len(head) - 1)))]
                     + tail[rng.randint(1, max(1, len(tail) - 2)):])
            if product is not None:
                parts += [rng.choice(("for my", "on my", "with the", "on the")), product]
            phrasings.append(" ".join(parts)[:500])
        yield entry(f"syn-{n:06d}", list(dict.fromkeys(phrasings)))


def grown_entries(clinc: Clinc, size: int, seed: int) -> list[KBEntry]:
    """The base KB, then CLINC's remaining phrasings, then synthetic entries: `size` in all.
    Deterministic, and a smaller size is a prefix of a bigger one."""
    entries = base_entries(clinc)
    for source in (clinc_rest_entries(clinc), synthetic_entries(clinc, seed)):
        for item in source:
            if len(entries) >= size:
                return entries
            entries.append(item)
    return entries


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(kb: KnowledgeBase, entries: Sequence[KBEntry], questions: Sequence[str],
            scorer: Scorer, baseline_seconds: float) -> dict[str, Any]:
    """kb.search and rapidfuzz extractOne on the same questions, interleaved, after a few
    questions of warm-up each (rapidfuzz's are slow at 100k entries: fewer)."""
    choices = [default_process(p) for e in entries for p in e.phrasings]
    for text in questions[:20]:
        kb.search(text, limit=5)
    for text in questions[:3]:
        process.extractOne(default_process(text), choices, scorer=scorer, processor=None)
    ours: list[float] = []
    ours_cpu: list[float] = []  # this thread's CPU time: what a busy machine does not inflate
    theirs: list[float] = []
    deadline = time.monotonic() + baseline_seconds
    for text in questions:
        started, started_cpu = time.perf_counter(), time.thread_time()
        kb.search(text, limit=5)
        ours.append((time.perf_counter() - started) * 1000)
        ours_cpu.append((time.thread_time() - started_cpu) * 1000)
        if not theirs or time.monotonic() < deadline:
            started = time.perf_counter()
            process.extractOne(default_process(text), choices, scorer=scorer, processor=None)
            theirs.append((time.perf_counter() - started) * 1000)
    return {
        "phrasings": len(choices),
        "queries": len(ours), "p50_ms": percentile(ours, 50), "p99_ms": percentile(ours, 99),
        "mean_ms": sum(ours) / len(ours),
        "cpu_p50_ms": percentile(ours_cpu, 50), "cpu_p99_ms": percentile(ours_cpu, 99),
        "rapidfuzz_queries": len(theirs),
        "rapidfuzz_p50_ms": percentile(theirs, 50), "rapidfuzz_p99_ms": percentile(theirs, 99),
        "rapidfuzz_mean_ms": sum(theirs) / len(theirs),
    }


# ---- report --------------------------------------------------------------------------------

def fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    acc = results["accuracy"]["chatkit"]
    found: list[tuple[str, bool | None, str]] = [
        (f"top-1 accuracy in scope >= {TARGET_TOP1}", acc["top1"] >= TARGET_TOP1,
         fmt(acc["top1"])),
        (f"answered correctly at 80 % oos declined >= {TARGET_ANSWERED_AT_80}",
         acc["answered_correctly_at_80"] >= TARGET_ANSWERED_AT_80,
         fmt(acc["answered_correctly_at_80"])),
    ]
    by_size = {row["entries"]: row for row in results["latency"]}
    for size, limit in TARGET_P99_MS.items():
        row = by_size.get(size)
        found.append((f"kb.search p99 <= {limit:g} ms at {size:,} entries",
                      None if row is None else row["p99_ms"] <= limit,
                      "not run" if row is None else f"{row['p99_ms']:.2f} ms"))
    return found


def best_scorer(rapidfuzz: dict[str, dict[str, float]]) -> str:
    return max(rapidfuzz, key=lambda name: rapidfuzz[name]["top1"])


def report(results: dict[str, Any]) -> str:
    acc = results["accuracy"]
    ck, rf = acc["chatkit"], acc["rapidfuzz"]
    lines = [f"== accuracy: {acc['entries']} entries, {acc['in_scope']} in-scope test "
             f"questions, {acc['out_of_scope']} oos_test ==",
             f"{'matcher':<34}{'top-1':>8}{'top-3':>8}{'answered right @80% declined':>30}"
             f"{'threshold':>11}"]
    lines.append(f"{'chatkit kb.search':<34}{fmt(ck['top1']):>8}{fmt(ck['top3']):>8}"
                 f"{fmt(ck['answered_correctly_at_80']):>30}{fmt(ck['threshold_at_80']):>11}")
    best = best_scorer(rf)
    for name, row in rf.items():
        label = f"rapidfuzz {name}" + (" (best)" if name == best else "")
        lines.append(f"{label:<34}{fmt(row['top1']):>8}{fmt(row['top3']):>8}"
                     f"{fmt(row['answered_correctly_at_80']):>30}"
                     f"{fmt(row['threshold_at_80']):>11}")
    lines += [
        f"chatkit kb.answer at its own thresholds (answer {ck['thresholds']['answer']}, "
        f"clarify {ck['thresholds']['clarify']}): oos declined {fmt(ck['declined_rate'])}, "
        f"answered wrongly {fmt(ck['wrong_answer_rate'])} (of all questions); "
        f"kb.answer p50 {ck['answer_p50_ms']:.2f} ms, p99 {ck['answer_p99_ms']:.2f} ms",
        f"(oos declined at the 80 % threshold: {fmt(ck['oos_declined_at_threshold'])})", "",
        "== latency against KB size: kb.search(limit=5) vs rapidfuzz extractOne "
        f"({results['baseline_scorer']}, all phrasings) ==",
        f"{'entries':>8}{'phrasings':>10}{'make s':>8}{'build s':>9}{'RSS MB':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'cpu p50':>9}{'cpu p99':>9}{'rf p50':>9}{'rf p99':>9}"
        f"{'p50 x':>8}{'p99 x':>8}  questions",
    ]
    for row in results["latency"]:
        lines.append(
            f"{row['entries']:>8,}{row['phrasings']:>10,}{row['entries_made_s']:>8.1f}"
            f"{row['build_s']:>9.1f}{row['peak_rss_mb']:>8.0f}{row['p50_ms']:>9.3f}"
            f"{row['p99_ms']:>9.3f}{row['cpu_p50_ms']:>9.3f}{row['cpu_p99_ms']:>9.3f}{row['rapidfuzz_p50_ms']:>9.2f}"
            f"{row['rapidfuzz_p99_ms']:>9.2f}{row['p50_ms'] / row['rapidfuzz_p50_ms']:>8.3f}"
            f"{row['p99_ms'] / row['rapidfuzz_p99_ms']:>8.3f}"
            f"  {row['queries']} / {row['rapidfuzz_queries']}")
    lines += ["(p50, p99: kb.search wall time; cpu p50/p99: its thread's CPU time, which a busy "
              "machine does not inflate; rf: rapidfuzz;\n x: chatkit / rapidfuzz, below 1 is "
              "faster; questions timed: chatkit / rapidfuzz; make s: creating the KBEntry "
              "objects;\n build s: KnowledgeBase(entries); RSS: the process's peak so far)",
              "", "== targets =="]
    lines += [f"{name}: {met(ok)} ({shown})" for name, ok, shown in targets(results)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 test + 100 oos questions, sizes 1000,2000, "
                        "30 latency questions")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data", type=Path, default=DATA,
                        help=f"CLINC150 data_full.json (default {DATA}, or $CHATKIT_CLINC150)")
    parser.add_argument("--sizes", help="KB sizes for latency (default 1000,10000,100000)")
    parser.add_argument("--latency-queries", type=int,
                        help="questions timed per size (default 1000)")
    parser.add_argument("--baseline-seconds", type=float, default=60.0,
                        help="at most this long on rapidfuzz per size (default 60)")
    parser.add_argument("--baseline-scorer", choices=["best", *SCORERS], default="best",
                        help="rapidfuzz scorer for latency (default: the best top-1 above)")
    parser.add_argument("--seed", type=int, default=150)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("1000,2000" if args.quick
                                             else "1000,10000,100000")).split(",")]
    latency_queries = args.latency_queries or (30 if args.quick else 1000)
    if any(size < 150 for size in sizes) or latency_queries < 1:
        parser.error("sizes must be at least 150 (the base KB) and --latency-queries >= 1")
    if not args.data.is_file():
        print(f"kb bench: {args.data} not found (set --data or CHATKIT_CLINC150)",
              file=sys.stderr)
        return 1

    def status(text: str) -> None:
        print(f"  {text}", file=sys.stderr if args.json else sys.stdout, flush=True)

    rng = random.Random(args.seed)
    clinc = load_clinc(args.data)
    test, oos = clinc.test, clinc.oos_test
    if args.quick:
        test, oos = rng.sample(test, 300), rng.sample(oos, 100)
    started = dt.datetime.now(dt.UTC)
    header = (f"kb bench {started:%Y-%m-%d %H:%M:%S} UTC  python {platform.python_version()}  "
              f"{os.cpu_count()} cpus  load {os.getloadavg()[0]:.2f}  "
              f"{'quick' if args.quick else 'full'}  seed {args.seed}")
    if not args.json:
        print(header, flush=True)

    entries = base_entries(clinc)
    kb = KnowledgeBase(entries)
    status(f"accuracy: chatkit on {len(test)} + {len(oos)} questions ...")
    chatkit_acc = chatkit_accuracy(kb, test, oos)
    status("accuracy: rapidfuzz ...")
    accuracy: dict[str, Any] = {
        "entries": len(entries), "in_scope": len(test), "out_of_scope": len(oos),
        "chatkit": chatkit_acc, "rapidfuzz": rapidfuzz_accuracy(entries, test, oos)}
    scorer = (best_scorer(accuracy["rapidfuzz"]) if args.baseline_scorer == "best"
              else args.baseline_scorer)

    questions = [t for t, _ in clinc.test] + clinc.oos_test
    questions = rng.sample(questions, min(latency_queries, len(questions)))
    rows = []
    for size in sizes:
        status(f"latency: building {size:,} entries ...")
        t0 = time.perf_counter()
        grown = grown_entries(clinc, size, args.seed)
        made_s = time.perf_counter() - t0
        del kb
        gc.collect()
        t0 = time.perf_counter()
        kb = KnowledgeBase(grown)
        build_s = time.perf_counter() - t0
        gc.collect()  # the build's garbage is not the lookups' cost
        status(f"latency: {size:,} entries built in {build_s:.1f} s; timing ...")
        rows.append({"entries": len(grown), "entries_made_s": made_s, "build_s": build_s,
                     "peak_rss_mb": peak_rss_mb(),
                     **latency(kb, grown, questions, SCORERS[scorer], args.baseline_seconds)})
    results: dict[str, Any] = {"header": header, "started": started.isoformat(),
                               "quick": args.quick, "seed": args.seed,
                               "baseline_scorer": scorer,
                               "load_at_end": os.getloadavg()[0],
                               "accuracy": accuracy, "latency": rows}
    results["targets"] = [{"target": name, "met": ok, "value": shown}
                          for name, ok, shown in targets(results)]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n" + report(results))
        print(f"(load average at the end: {results['load_at_end']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
