"""The FAQ matcher for one locale: a weighted term index finds candidates, rapidfuzz and the
entry's other phrasings score them, and a fixed calibration turns the score into a confidence.

Why this shape:
- Term weighting (TF-IDF over entries, sublinear term frequency, word pairs as well as words)
  makes "cancel my card" differ from "cancel my order" by the words that tell them apart.
- The index (postings per term, summed with numpy) touches only the entries that share a term
  with the question, so a lookup costs in proportion to those, not to the KB.
- A word the KB does not know is corrected to the nearest word it does (rapidfuzz), which is
  what catches typos; the vocabulary grows far slower than the KB.
- An entry is scored by its best phrasing and by all its phrasings together (their centroid):
  ten ways of asking the same thing say more than the closest one alone.
- The confidence is a logistic function of those scores with constants fitted once on held-out
  data, not on the KB at hand, so 0.7 means the same in every knowledge base."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from chatkit.kb.entries import KBEntry
from chatkit.kb.text import Analyzer

# Ranking: score = W_BEST * best phrasing cosine + W_CENTROID * centroid cosine + W_FUZZ *
# string similarity. Confidence: a logistic function of the same features and the margin over the
# best rival, fitted by
# scripts/calibrate_matcher.py on CLINC150's train and validation splits (never its test
# split); see docs/architecture.md.
W_BEST, W_CENTROID, W_FUZZ = 0.3, 0.5, 0.2
C_BIAS, C_BEST, C_CENTROID, C_FUZZ, C_MARGIN = -2.53, -2.66, 3.86, 2.29, 17.08
RIVAL_FLOOR = 0.2  # the median score of the second-best entry on CLINC150's validation split
CANDIDATES = 40          # entries rescored in full per lookup
MIN_CORRECTION = 80      # rapidfuzz ratio for a typo to count as a known word


@dataclass(frozen=True, slots=True)
class Scored:
    entry: int        # index into the matcher's entries
    phrasing: int     # index into that entry's phrasings
    confidence: float
    score: float      # the ranking score


Vector = dict[str, float]


class Matcher:
    def __init__(self, entries: Sequence[KBEntry], analyzer: Analyzer) -> None:
        self.entries = list(entries)
        self.analyzer = analyzer
        phrasing_terms: list[list[str]] = []
        self._phrasing_entry: list[int] = []
        self._phrasing_text: list[str] = []
        entry_features: list[set[str]] = []
        for index, entry in enumerate(self.entries):
            features: set[str] = set()
            for phrasing in entry.phrasings:
                terms = self._features(analyzer.terms(phrasing))
                phrasing_terms.append(terms)
                self._phrasing_entry.append(index)
                self._phrasing_text.append(" ".join(analyzer.words(phrasing)))
                features.update(terms)
            entry_features.append(features)
        self._first_phrasing = [0] * len(self.entries)
        for p in range(len(self._phrasing_entry) - 1, -1, -1):
            self._first_phrasing[self._phrasing_entry[p]] = p

        df: Counter[str] = Counter()
        for features in entry_features:
            df.update(features)
        n = len(self.entries)
        self._idf = {term: math.log((n + 1) / (count + 1)) + 1.0 for term, count in df.items()}
        self._unknown_idf = math.log(n + 1) + 1.0
        self._vocabulary = sorted({t for t in self._idf if " " not in t})

        phrasing_vectors = [self._vector(terms) for terms in phrasing_terms]
        centroids: list[Vector] = [defaultdict(float) for _ in self.entries]
        for p, vector in enumerate(phrasing_vectors):
            centroid = centroids[self._phrasing_entry[p]]
            for term, weight in vector.items():
                centroid[term] += weight
        self._phrasing_postings = _postings(phrasing_vectors)
        self._centroid_postings = _postings([_unit(c) for c in centroids])
        self._phrasing_vectors = phrasing_vectors

    @staticmethod
    def _features(terms: list[str]) -> list[str]:
        return terms + [f"{a} {b}" for a, b in itertools.pairwise(terms)]

    def _vector(self, terms: list[str]) -> Vector:
        counts = Counter(terms)
        return _unit({t: (1.0 + math.log(c)) * self._idf.get(t, self._unknown_idf)
                      for t, c in counts.items()})

    def _correct(self, terms: list[str]) -> list[str]:
        """Unknown words replaced by the nearest known word, when one is close enough."""
        corrected = []
        for term in terms:
            if term not in self._idf and len(term) >= 4 and self._vocabulary:
                found = process.extractOne(term, self._vocabulary, scorer=fuzz.ratio,
                                           score_cutoff=MIN_CORRECTION)
                if found is not None:
                    term = found[0]
            corrected.append(term)
        return corrected

    def candidates(self, text: str) -> list[Candidate]:
        """The entries worth scoring for `text`, with the features that score them."""
        terms = self._correct(self.analyzer.terms(text))
        if not terms or not self.entries:
            return []
        query = self._vector(self._features(terms))
        phrasing_cosine = _scores(query, self._phrasing_postings, len(self._phrasing_entry))
        centroid = _scores(query, self._centroid_postings, len(self.entries))
        # Candidates: the entries of the best phrasings, and the best centroids.
        chosen = set(_top(centroid, CANDIDATES).tolist())
        for p in _top(phrasing_cosine, CANDIDATES).tolist():
            chosen.add(self._phrasing_entry[p])
        words = " ".join(self.analyzer.words(text))
        found = []
        for e in sorted(chosen):
            if centroid[e] <= 0.0:
                continue
            first = self._first_phrasing[e]
            cosines = phrasing_cosine[first:first + len(self.entries[e].phrasings)]
            p = int(np.argmax(cosines))
            similarity = fuzz.token_sort_ratio(words, self._phrasing_text[first + p]) / 100
            found.append(Candidate(e, p, float(cosines[p]), float(centroid[e]), similarity))
        return found

    def search(self, text: str, limit: int) -> list[Scored]:
        """The best entries for `text`, best first, at most `limit`."""
        found = sorted(self.candidates(text), key=lambda c: (-c.score, c.entry))
        scored = []
        for rank, c in enumerate(found[:limit]):
            rival = found[1 if rank == 0 else 0].score if len(found) > 1 else 0.0
            scored.append(Scored(c.entry, c.phrasing, c.confidence(rival), c.score))
        return scored


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: int
    phrasing: int
    best: float        # cosine with the entry's closest phrasing
    centroid: float    # cosine with all its phrasings together
    similarity: float  # rapidfuzz token_sort_ratio with the closest phrasing, 0..1

    @property
    def score(self) -> float:
        """What ranks candidates."""
        return W_BEST * self.best + W_CENTROID * self.centroid + W_FUZZ * self.similarity

    def confidence(self, rival: float) -> float:
        """How likely this entry answers the question, given the best other candidate's
        score. A rival weaker than a typical unrelated entry counts as one, so that a KB of
        five entries is as cautious as one of five thousand."""
        margin = self.score - max(rival, RIVAL_FLOOR)
        return _sigmoid(C_BIAS + C_BEST * self.best + C_CENTROID * self.centroid
                        + C_FUZZ * self.similarity + C_MARGIN * margin)


@dataclass(frozen=True, slots=True)
class _Postings:
    """term -> (row indices, weights), as numpy arrays."""

    rows: dict[str, npt.NDArray[np.int32]]
    weights: dict[str, npt.NDArray[np.float32]]


def _unit(vector: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


def _postings(vectors: list[Vector]) -> _Postings:
    rows: dict[str, list[int]] = defaultdict(list)
    weights: dict[str, list[float]] = defaultdict(list)
    for row, vector in enumerate(vectors):
        for term, weight in vector.items():
            rows[term].append(row)
            weights[term].append(weight)
    return _Postings({t: np.asarray(r, dtype=np.int32) for t, r in rows.items()},
                     {t: np.asarray(w, dtype=np.float32) for t, w in weights.items()})


def _scores(query: Vector, postings: _Postings, size: int) -> npt.NDArray[np.float64]:
    """Cosine of the query with every row (rows sharing no term score 0)."""
    rows, weights = [], []
    for term, q in query.items():
        r = postings.rows.get(term)
        if r is not None:
            rows.append(r)
            weights.append(postings.weights[term] * q)
    if not rows:
        return np.zeros(size)
    summed = np.bincount(np.concatenate(rows), weights=np.concatenate(weights), minlength=size)
    return summed.astype(np.float64, copy=False)


def _top(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    if len(scores) <= k:
        return np.flatnonzero(scores > 0)
    top = np.argpartition(scores, -k)[-k:]
    return top[scores[top] > 0]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
