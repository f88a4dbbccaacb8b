"""Fit the matcher's confidence (chatkit/kb/matcher.py: C_*) on CLINC150's train and
validation splits, and print how well the fitted confidence is calibrated.

    .venv/bin/python scripts/calibrate_matcher.py [--data ../shared/data/clinc150/data_full.json]

The knowledge base is each intent's first 10 training phrasings; the questions are the rest of
the training split (in scope) and oos_train (out of scope), weighted so that a quarter of the
questions are out of scope, as in a real chat. The test splits are never read. The printed
constants go into matcher.py by hand: the fit is a development step, not something the
package does at run time."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from chatkit.kb import KBEntry, KnowledgeBase
from chatkit.kb.matcher import RIVAL_FLOOR, Candidate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clinc150" / \
    "data_full.json"
OOS_SHARE = 0.25


def features(c: Candidate, margin: float) -> list[float]:
    return [1.0, c.best, c.centroid, c.similarity, margin]


def rows(kb: KnowledgeBase, questions: list[tuple[str, str | None]]) \
        -> tuple[list[list[float]], list[float]]:
    matcher = kb._matchers["en"]
    xs, ys = [], []
    for text, expected in questions:
        found = sorted(matcher.candidates(text), key=lambda c: (-c.score, c.entry))
        if not found:
            continue
        top = found[0]
        rival = found[1].score if len(found) > 1 else 0.0
        margin = top.score - max(rival, RIVAL_FLOOR)
        xs.append(features(top, margin))
        ys.append(1.0 if matcher.entries[top.entry].id == expected else 0.0)
    return xs, ys


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weighted logistic regression by Newton's method."""
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ beta))
        grad = x.T @ (w * (p - y)) + l2 * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-intent", type=int, default=30,
                        help="training questions per intent beyond the KB's ten")
    args = parser.parse_args()
    data = json.loads(args.data.read_text())
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    kb = KnowledgeBase([KBEntry(id=i, question=t[0], alternates=tuple(t[1:10]), answer=i)
                        for i, t in by_intent.items()])
    rng = random.Random(7)
    train_in = [(t, i) for i, texts in by_intent.items()
                for t in rng.sample(texts[10:], min(args.per_intent, len(texts) - 10))]
    sets = {"train": (train_in, [(t, None) for t, _ in data["oos_train"]]),
            "val": ([(t, i) for t, i in data["val"]], [(t, None) for t, _ in data["oos_val"]])}
    fitted = {}
    for name, (in_scope, out_of_scope) in sets.items():
        xi, yi = rows(kb, in_scope)
        xo, yo = rows(kb, out_of_scope)
        x = np.array(xi + xo)
        y = np.array(yi + yo)
        # Weight so that out-of-scope questions are OOS_SHARE of the total.
        w = np.concatenate([np.full(len(xi), (1 - OOS_SHARE) / len(xi)),
                            np.full(len(xo), OOS_SHARE / len(xo))]) * len(x)
        fitted[name] = (x, y, w)
    x, y, w = fitted["train"]
    beta = fit(x, y, w)
    names = ["C_BIAS", "C_BEST", "C_CENTROID", "C_FUZZ", "C_MARGIN"]
    print(", ".join(names), "=", ", ".join(f"{b:.2f}" for b in beta))
    for name, (x, y, w) in fitted.items():
        p = 1 / (1 + np.exp(-x @ beta))
        print(f"\n{name}: confidence bucket -> weighted share correct (questions)")
        for lo in np.arange(0, 1, 0.1):
            sel = (p >= lo) & (p < lo + 0.1)
            if sel.any():
                print(f"  {lo:.1f}-{lo + 0.1:.1f}: {np.average(y[sel], weights=w[sel]):.2f} "
                      f"({int(sel.sum())})")


if __name__ == "__main__":
    main()
