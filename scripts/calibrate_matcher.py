"""Fit the matcher's models (chatkit/kb/matcher.py: LEXICAL and SEMANTIC) on CLINC150's train
split, and show how they do on its validation split.

    .venv/bin/python scripts/calibrate_matcher.py [--data ../shared/data/clinc150/data_full.json]

The knowledge base is each intent's first 10 training phrasings; the fitting questions are
other training phrasings (in scope) and oos_train (out of scope), weighted so that a quarter
of the questions are out of scope, as in a real chat. The validation split is only reported,
and the test splits are never read. Two fits per model:

- ranking: a logistic regression over the candidates of every question (those
  `Matcher.candidates` scores in full: the best RESCORED by the cheap features), "is this the
  right entry?"; its weights, scaled to sum to 1, rank candidates;
- confidence: a logistic regression over each question's top candidate, "is it right?", on the
  features and the margin over the best rival (floored at the median second-best score).

Print the models and paste them into matcher.py: fitting is a development step, not something
chatkit does at run time."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt

from chatkit.kb import KBEntry, KnowledgeBase, MatcherConfig
from chatkit.kb.matcher import Matcher, Model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clinc150" / "data_full.json"
OOS_SHARE = 0.25
Array = npt.NDArray[np.float64]
Question = tuple[str, str | None]


def fit_logistic(x: Array, y: Array, w: Array, l2: float = 1e-3) -> Array:
    """Weighted logistic regression by Newton's method."""
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ (w * (p - y)) + l2 * beta
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def candidate_rows(matcher: Matcher, questions: list[Question]) -> list[tuple[Array, Array]]:
    """Per question: its candidates' features, and which candidate is right (1) or not (0)."""
    out = []
    for text, expected in questions:
        found = matcher.candidates(text)
        features = np.array([c.features for c in found]) if found else np.zeros((0, 0))
        right = np.array([float(matcher.entries[c.entry].id == expected) for c in found])
        out.append((features, right))
    return out


def fit_model(per_question: list[tuple[Array, Array]], weights: Array) -> Model:
    x = np.vstack([f for f, _ in per_question if len(f)])
    y = np.concatenate([r for f, r in per_question if len(f)])
    w = np.concatenate([np.full(len(f), wq) for (f, _), wq in zip(per_question, weights,
                                                                   strict=True) if len(f)])
    beta = fit_logistic(np.hstack([np.ones((len(x), 1)), x]), y, w)
    rank = beta[1:] / beta[1:].sum()
    tops, seconds = [], []
    for features, right in per_question:
        if not len(features):
            continue
        scores = features @ rank
        order = np.argsort(-scores)
        rival = scores[order[1]] if len(order) > 1 else 0.0
        tops.append((features[order[0]], scores[order[0]], rival, right[order[0]]))
        seconds.append(rival)
    floor = float(np.median(seconds))
    xc = np.array([[1.0, *f, s - max(r, floor)] for f, s, r, _ in tops])
    yc = np.array([t[3] for t in tops])
    wc = np.array([wq for (f, _), wq in zip(per_question, weights, strict=True) if len(f)])
    c = fit_logistic(xc, yc, wc)
    return Model(rank=tuple(round(float(v), 3) for v in rank), bias=round(float(c[0]), 3),
                 confidence=tuple(round(float(v), 3) for v in c[1:-1]),
                 margin_weight=round(float(c[-1]), 3), rival_floor=round(floor, 3))


def question_weights(n_in: int, n_out: int) -> Array:
    return np.concatenate([np.full(n_in, (1 - OOS_SHARE) / n_in),
                           np.full(n_out, OOS_SHARE / n_out)]) * (n_in + n_out)


def report(name: str, model: Model, per_question: list[tuple[Array, Array]],
           weights: Array, n_in: int) -> None:
    rank = np.array(model.rank)
    confidence, right = [], []
    for features, correct in per_question:
        if not len(features):
            confidence.append(0.0)
            right.append(0.0)
            continue
        scores = features @ rank
        order = np.argsort(-scores)
        rival = float(scores[order[1]]) if len(order) > 1 else 0.0
        confidence.append(model.calibrated(features[order[0]], float(scores[order[0]]), rival))
        right.append(float(correct[order[0]]))
    p, y = np.array(confidence), np.array(right)
    top1 = y[:n_in].mean()
    threshold = np.quantile(p[n_in:], 0.8) if len(p) > n_in else 1.0
    answered = ((p[:n_in] > threshold) & (y[:n_in] == 1)).mean()
    print(f"  {name}: top-1 {top1:.3f}; answered right with 80% of out-of-scope declined "
          f"{answered:.3f}")
    for low in np.arange(0, 1, 0.2):
        chosen = (p >= low) & (p < low + 0.2)
        if chosen.any():
            share = np.average(y[chosen], weights=weights[chosen])
            print(f"    confidence {low:.1f}-{low + 0.2:.1f}: {share:.2f} right "
                  f"({int(chosen.sum())} questions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--per-intent", type=int, default=30,
                        help="fitting questions per intent beyond the KB's ten")
    args = parser.parse_args()
    data = json.loads(args.data.read_text())
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    entries = [KBEntry(id=i, question=t[0], alternates=tuple(t[1:10]), answer=i)
               for i, t in by_intent.items()]
    rng = random.Random(7)
    fit_in: list[Question] = [(t, i) for i, texts in by_intent.items()
                              for t in rng.sample(texts[10:], min(args.per_intent,
                                                                  len(texts) - 10))]
    fit_out: list[Question] = [(t, None) for t, _ in data["oos_train"]]
    val_in: list[Question] = [(t, i) for t, i in data["val"]]
    val_out: list[Question] = [(t, None) for t, _ in data["oos_val"]]
    for name, vectors in (("LEXICAL", False), ("SEMANTIC", True)):
        kb = KnowledgeBase(entries, config=MatcherConfig(word_vectors=vectors))
        matcher = kb.matcher("en")
        assert matcher is not None
        fit_rows = candidate_rows(matcher, fit_in + fit_out)
        model = fit_model(fit_rows, question_weights(len(fit_in), len(fit_out)))
        print(f"{name} = {model!r}")
        report("fit", model, fit_rows, question_weights(len(fit_in), len(fit_out)),
               len(fit_in))
        report("validation", model, candidate_rows(matcher, val_in + val_out),
               question_weights(len(val_in), len(val_out)), len(val_in))


if __name__ == "__main__":
    main()
