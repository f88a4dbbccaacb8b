"""The FAQ matcher for one locale: a weighted term index finds candidates, rapidfuzz and the
entry's other phrasings score them, and a fixed calibration turns the score into a confidence.

Why this shape:
- Term weighting (TF-IDF over entries, sublinear term frequency, word pairs as well as words)
  makes "cancel my card" differ from "cancel my order" by the words that tell them apart.
- The index (postings per term, heaviest first, summed with numpy) reads at most a fixed
  number of postings per word of the question, so a lookup costs about the same in a KB of a
  thousand entries as in one of a hundred thousand; only the candidates it finds are scored
  exactly.
- A word the KB does not know is corrected to the nearest word it does (rapidfuzz), which is
  what catches typos; the vocabulary grows far slower than the KB.
- An entry is scored by its best phrasing and by all its phrasings together (their centroid):
  ten ways of asking the same thing say more than the closest one alone.
- With word vectors, a big KB's meanings are grouped into cells (_Cells), so a question is
  compared with a few cells' entries rather than all; and the two dearest features are
  computed only for the candidates the cheap ones rank best (RESCORED).
- The confidence is a logistic function of those scores with constants fitted once on held-out
  data, not on the KB at hand, so 0.7 means the same in every knowledge base."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from chatkit.kb.embedding import StaticEmbedder
from chatkit.kb.entries import KBEntry
from chatkit.kb.text import Analyzer


@dataclass(frozen=True, slots=True)
class Model:
    """How a candidate's features become its ranking score and its confidence.

    Features, in order: the cosine with the entry's closest phrasing, the cosine with its
    centroid, rapidfuzz's token_sort_ratio with the closest phrasing (0..1), and, with word
    vectors, the cosine of the static embeddings of the question and the entry's centroid
    (both whitened by the KB's own within-entry covariance) and how well the entry's word
    pieces cover the question's (Matcher._aligned).
    score = rank . features. confidence = sigmoid(bias + confidence . features + margin_weight
    * (score - max(best rival's score, rival_floor))): a rival weaker than a typical unrelated
    entry counts as one, so that a KB of five entries is as cautious as one of five thousand.

    The numbers are fitted by scripts/calibrate_matcher.py on CLINC150's train split (the
    questions beyond the ten phrasings each entry gets, and oos_train), chosen on its
    validation split, never its test split; see docs/architecture.md."""

    rank: tuple[float, ...]
    bias: float
    confidence: tuple[float, ...]
    margin_weight: float
    rival_floor: float

    def score(self, features: Sequence[float]) -> float:
        return sum(w * f for w, f in zip(self.rank, features, strict=True))

    def calibrated(self, features: Sequence[float], score: float, rival: float) -> float:
        margin = score - max(rival, self.rival_floor)
        return _sigmoid(self.bias + self.margin_weight * margin
                        + sum(w * f for w, f in zip(self.confidence, features, strict=True)))


LEXICAL = Model(rank=(0.213, 0.518, 0.269), bias=-1.001, confidence=(-1.595, 2.331, 0.135),
                margin_weight=18.106, rival_floor=0.254)
SEMANTIC = Model(rank=(0.248, -0.069, 0.038, 0.62, 0.163), bias=-1.26,
                 confidence=(-3.333, 3.157, 0.122, -1.452, 2.677), margin_weight=18.614,
                 rival_floor=0.398)
CANDIDATES = 40          # entries scored per lookup, from each index (words, phrasings, meaning)
RESCORED = 24            # of them, the best by the cheap features, scored in full
POSTINGS_CAP = 2000      # postings read per feature when looking for candidates
DENSE_ROWS = 300_000     # up to this many rows, candidates are summed in a dense array
FEW_ROWS = 65_536        # up to this many, a tie at the k-th sum is settled over all rows
COMPLETIONS = 5          # known words a word being typed may become
MEANING_SCAN_LIMIT = 4_096  # entries compared by meaning with every question, at most
PROBED_CELLS = 8         # past it, the cells of the meaning index (_Cells) scanned per lookup
MIN_CORRECTION = 80      # rapidfuzz ratio for a typo to count as a known word
WHITEN_SHRINK = 0.6      # share of the identity in the within-entry covariance, at least
MEAN_PRIOR = 30          # entries: a KB of this many removes half its mean meaning


@dataclass(frozen=True, slots=True)
class Scored:
    entry: int        # index into the matcher's entries
    phrasing: int     # index into that entry's phrasings
    confidence: float
    score: float      # the ranking score


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Matcher:
    """Finds the entries of one locale. With an `embedder` (static word vectors, for
    languages it knows) the meaning of words counts as well as the words themselves."""

    def __init__(self, entries: Sequence[KBEntry], analyzer: Analyzer, *,
                 embedder: StaticEmbedder | None = None) -> None:
        self.entries = list(entries)
        self.analyzer = analyzer
        self.embedder = embedder
        self.model = LEXICAL if embedder is None else SEMANTIC
        self._feature_ids: dict[str, int] = {}
        # Per thread: the question as a dense vector, and flags per word piece (_aligned).
        self._scratch = threading.local()
        # Flat (phrasing, feature, count) columns in compact arrays: a KB of 100k entries has
        # millions of them, too many for a Python object each.
        feature_col, count_col, lengths_col = array("q"), array("d"), array("q")
        self._phrasing_text: list[str] = []
        ids = self._feature_ids
        for entry in self.entries:
            for phrasing in entry.phrasings:
                words = analyzer.words(phrasing)
                self._phrasing_text.append(" ".join(words))
                terms = [analyzer.stem(w) for w in words if w not in analyzer.stop_words]
                found = Counter(ids.setdefault(f, len(ids)) for f in self._features(terms))
                feature_col.extend(found.keys())
                count_col.extend(found.values())
                lengths_col.append(len(found))
        counts = np.array([len(e.phrasings) for e in self.entries], dtype=np.int64)
        self._first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._count = counts

        # Term weights: inverse document frequency over entries, not phrasings, so that a
        # word every phrasing of one entry uses is not discounted for it.
        n_features = len(self._feature_ids)
        lengths = np.frombuffer(lengths_col, dtype=np.int64)
        indices = np.frombuffer(feature_col, dtype=np.int64)
        tf = np.frombuffer(count_col, dtype=np.float64)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        entry_rows = np.repeat(np.repeat(np.arange(len(counts)), counts), lengths)
        pairs = np.unique(entry_rows * max(n_features, 1) + indices)
        df = np.bincount(pairs % max(n_features, 1), minlength=n_features)
        del pairs
        n = len(self.entries)
        self._idf = np.log((n + 1) / (df + 1)) + 1.0
        self._unknown_idf = math.log(n + 1) + 1.0
        self._phrasings, unit = _Rows.build(rows, indices,
                                            (1.0 + np.log(tf)) * self._idf[indices],
                                            len(lengths))
        del rows, tf
        # An entry's centroid: the sum of its phrasings' unit vectors, made unit length.
        self._centroids, _ = _Rows.build(entry_rows, indices, unit, n)
        del entry_rows, indices, unit
        unigrams = [f for f in self._feature_ids if " " not in f]
        self._words = sorted(unigrams)
        self._vocabulary: dict[tuple[str, int], list[str]] = defaultdict(list)
        for word in unigrams:
            self._vocabulary[word[0], len(word)].append(word)
        self._corrections: dict[str, str] = {}
        # Each entry's meaning: the normalised sum of its phrasings' embeddings, in a space
        # where what varies between phrasings of one entry counts less (see _whitening).
        self._meanings: npt.NDArray[np.float32] | None = None
        self._cells: _Cells | None = None  # big KBs: entries grouped by meaning
        self._mean = np.zeros(0, dtype=np.float32)
        self._whiten = np.zeros((0, 0), dtype=np.float32)
        # Each entry's distinct word pieces (for the aligned-pieces feature) and their idf.
        self._pieces = np.zeros(0, dtype=np.int32)
        self._piece_start = np.zeros(len(self.entries), dtype=np.int64)
        self._piece_count = np.zeros(len(self.entries), dtype=np.int64)
        self._piece_idf = np.zeros(0, dtype=np.float32)
        if embedder is not None:
            piece_ids = [embedder.token_ids(p) for e in self.entries for p in e.phrasings]
            phrasings = np.zeros((len(piece_ids), embedder.dim), dtype=np.float32)
            for row, pieces in enumerate(piece_ids):
                phrasings[row] = embedder.pool(pieces)
            entry_rows = np.repeat(np.arange(n, dtype=np.int64), counts)
            self._mean, self._whiten = _whitening(phrasings, entry_rows, n)
            meanings = np.zeros((n, embedder.dim), dtype=np.float32)
            for start in range(0, n, 8192):  # a block of entries at a time, as above
                end = min(n, start + 8192)
                first, last = int(self._first[start]), int(self._first[end - 1] + counts[end - 1])
                whitened = _unit_rows((phrasings[first:last] - self._mean) @ self._whiten)
                meanings[start:end] = np.add.reduceat(whitened, self._first[start:end] - first,
                                                      axis=0)
            del phrasings
            self._meanings = _unit_rows(meanings)
            if n > MEANING_SCAN_LIMIT:
                self._cells = _Cells.build(self._meanings)
            # Each entry's distinct pieces, sorted, from one sort of (entry, piece) keys.
            vocab = len(embedder.unit_pieces())
            piece_lengths = np.fromiter((len(p) for p in piece_ids), dtype=np.int64,
                                        count=len(piece_ids))
            keys = np.repeat(entry_rows, piece_lengths) * vocab + (
                np.concatenate(piece_ids) if piece_ids else np.zeros(0, dtype=np.int64))
            del piece_ids
            keys = np.unique(keys)
            self._pieces = (keys % vocab).astype(np.int32)
            self._piece_count = np.bincount(keys // vocab, minlength=n).astype(np.int64)
            self._piece_start = np.concatenate(
                [[0], np.cumsum(self._piece_count)[:-1]]).astype(np.int64)
            piece_df = np.bincount(self._pieces, minlength=len(embedder.unit_pieces()))
            self._piece_idf = (np.log((n + 1) / (piece_df + 1)) + 1.0).astype(np.float32)

    @staticmethod
    def _features(terms: list[str]) -> list[str]:
        return terms + [f"{a} {b}" for a, b in itertools.pairwise(terms)]

    def _correct(self, term: str) -> str:
        """An unknown word replaced by the nearest known word, when one is close enough.
        Typos rarely change the first letter or the length by more than two, which keeps the
        words compared few however large the vocabulary."""
        if term in self._feature_ids or len(term) < 4:
            return term
        corrected = self._corrections.get(term)
        if corrected is None:
            nearby = [w for size in range(len(term) - 2, len(term) + 3)
                      for w in self._vocabulary.get((term[0], size), ())]
            found = process.extractOne(term, nearby, scorer=fuzz.ratio,
                                       score_cutoff=MIN_CORRECTION) if nearby else None
            corrected = term if found is None else found[0]
            if len(self._corrections) < 100_000:
                self._corrections[term] = corrected
        return corrected

    def _completions(self, start: str) -> list[str]:
        """The commonest known words that begin with `start` (a word being typed)."""
        first = bisect.bisect_left(self._words, start)
        found = list(itertools.takewhile(lambda w: w.startswith(start),
                                         itertools.islice(self._words, first, first + 200)))
        found.sort(key=lambda w: self._idf[self._feature_ids[w]])
        return found[:COMPLETIONS]

    def _query(self, words: list[str], prefix: bool = False) -> tuple[IntArray, FloatArray]:
        """The question (its analyzer words) as a unit vector: known feature ids (sorted) and
        their weights. Unknown features count in its length, so a question that is mostly
        about something else scores lower everywhere. With `prefix`, an unknown last word is
        taken as the start of a word still being typed."""
        stop_words, stem = self.analyzer.stop_words, self.analyzer.stem
        terms = [stem(w) for w in words if w not in stop_words]
        completions: list[str] = []
        if prefix and terms and terms[-1] not in self._feature_ids:
            completions = self._completions(terms[-1])
            if completions:
                terms.pop()
        terms = [self._correct(t) for t in terms]
        counts = Counter(self._features(terms) + completions)
        ids, weights, unknown = [], [], 0.0
        for feature, count in counts.items():
            fid = self._feature_ids.get(feature)
            if fid is None:
                unknown += ((1.0 + math.log(count)) * self._unknown_idf) ** 2
            else:
                ids.append(fid)
                weights.append((1.0 + math.log(count)) * float(self._idf[fid]))
        w = np.asarray(weights, dtype=np.float64)
        norm = math.sqrt(float(w @ w) + unknown)
        order = np.argsort(ids)
        return np.asarray(ids, dtype=np.int64)[order], (w / norm if norm else w)[order]

    def candidates(self, text: str, *, prefix: bool = False) -> list[Candidate]:
        """The entries worth scoring for `text`, with the features that score them."""
        split = self.analyzer.words(text)
        if not split:
            return []  # punctuation, emoji: nothing to go on
        words = " ".join(split)
        ids, weights = self._query(split, prefix)
        chosen: set[int] = set()
        if len(ids):
            # The entries of the best phrasings and the best centroids, by the capped
            # postings.
            chosen.update(self._centroids.top(ids, weights, CANDIDATES).tolist())
            best_phrasings = self._phrasings.top(ids, weights, CANDIDATES)
            entry_of = np.searchsorted(self._first, best_phrasings, side="right") - 1
            chosen.update(entry_of.tolist())
        question: npt.NDArray[np.float32] | None = None
        meanings: npt.NDArray[np.float32] | None = None  # with every entry, when scanned
        pieces = np.zeros(0, dtype=np.int64)
        if self._meanings is not None and self.embedder is not None:
            # The question in the KB's whitened space (see _whitening).
            pieces = self.embedder.token_ids(text)
            raw = self.embedder.pool(pieces)
            if raw.any():
                q = (raw - self._mean) @ self._whiten
                norm = float(np.linalg.norm(q))
                if norm > 0:
                    question = (q / norm).astype(np.float32)
            if question is not None:
                # And the entries closest in meaning, even without a word in common: all of
                # them in a KB of a few thousand, those of the nearest cells in a bigger one.
                if self._cells is None:
                    meanings = _cosines(self._meanings, question)
                    chosen.update(_top_dense(meanings, CANDIDATES).tolist())
                else:
                    chosen.update(self._cells.top(question, CANDIDATES).tolist())
        if not chosen:
            return []
        # Every candidate is scored exactly by the cheap features; the dearest one (aligned
        # word pieces) only for the best RESCORED of them by the others.
        entries = np.fromiter(sorted(chosen), dtype=np.int64, count=len(chosen))
        counts = self._count[entries]
        rows = np.repeat(self._first[entries] - np.cumsum(counts) + counts, counts) \
            + np.arange(int(counts.sum()))
        query = self._dense_query()
        query[ids] = weights
        try:
            centroid = self._centroids.dot(entries, query)
            cosines = self._phrasings.dot(rows, query)
        finally:
            query[ids] = 0.0
        # Each entry's closest phrasing: the first maximum in its block of cosines.
        block_start = np.cumsum(counts) - counts
        best = np.maximum.reduceat(cosines, block_start)
        owner = np.repeat(np.arange(len(entries)), counts)
        at_max = np.flatnonzero(cosines >= best[owner])
        # (at_max is sorted, so each block's first maximum is where its owner changes)
        owners = owner[at_max]
        first_max = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
        best_phrasing = at_max[first_max] - block_start
        columns = [best, centroid]
        if meanings is not None:
            columns.append(meanings[entries].astype(np.float64))
        elif question is not None and self._meanings is not None:
            columns.append(_cosines(self._meanings[entries], question).astype(np.float64))
        elif self._meanings is not None:
            columns.append(np.zeros(len(entries)))
        rank = np.asarray(self.model.rank)
        cheap = np.column_stack(columns) @ rank[[0, 1, 3] if len(rank) > 3 else [0, 1]]
        keep = np.ones(len(entries), dtype=bool) if self._meanings is not None else centroid > 0
        chosen_rows = np.flatnonzero(keep)
        if len(chosen_rows) > RESCORED:
            # The best by the cheap features, in entry order (ties: the lower entry).
            top = np.argsort(-cheap[chosen_rows], kind="stable")[:RESCORED]
            chosen_rows = np.sort(chosen_rows[top])
        entries, best_phrasing = entries[chosen_rows], best_phrasing[chosen_rows]
        columns = [c[chosen_rows] for c in columns]
        # String similarity with each candidate's closest phrasing, in rapidfuzz's own loop.
        texts = [self._phrasing_text[f + p] for f, p in
                 zip(self._first[entries].tolist(), best_phrasing.tolist(), strict=True)]
        columns.insert(2, process.cdist([words], texts, scorer=fuzz.token_sort_ratio,
                                        dtype=np.float64)[0] / 100)
        if self._meanings is not None:
            columns.append(self._aligned(pieces, entries) if question is not None
                           else np.zeros(len(entries)))
        features = np.column_stack(columns)
        scores = features @ rank
        return [Candidate(e, p, tuple(f), s) for e, p, f, s in zip(
            entries.tolist(), best_phrasing.tolist(), features.tolist(), scores.tolist(),
            strict=True)]

    def _dense_query(self) -> FloatArray:
        """This thread's zeroed array of a weight per feature, for the question's weights
        (the caller zeroes what it sets): exact dot products without matching ids."""
        query: FloatArray | None = getattr(self._scratch, "query", None)
        if query is None:
            query = self._scratch.query = np.zeros(max(len(self._feature_ids), 1))
        return query

    def _distinct_pieces(self, pieces: npt.NDArray[np.int32],
                         vocab: int) -> tuple[IntArray, IntArray]:
        """np.unique(pieces, return_inverse=True) without sorting: marks in this thread's
        array of a flag per vocabulary piece (half the time for a lookup's few hundred)."""
        seen: npt.NDArray[np.bool_] | None = getattr(self._scratch, "seen", None)
        if seen is None or len(seen) != vocab:
            seen = self._scratch.seen = np.zeros(vocab, dtype=bool)
            self._scratch.slot = np.zeros(vocab, dtype=np.int64)
        slot: IntArray = self._scratch.slot
        seen[pieces] = True
        theirs = np.flatnonzero(seen)
        seen[theirs] = False
        slot[theirs] = np.arange(len(theirs))
        inverse: IntArray = slot[pieces]
        return theirs, inverse

    def _aligned(self, pieces: IntArray, entries: IntArray) -> FloatArray:
        """Per entry: how well its word pieces cover the question's, the idf-weighted mean over
        the question's distinct pieces of the best cosine with any piece of the entry. It sees
        "refund" in "money back" where the whole-text meaning averages it away."""
        out = np.zeros(len(entries))
        assert self.embedder is not None
        # (np.unique's own bookkeeping costs more than sorting a question's few pieces)
        mine = np.array(sorted(set(pieces.tolist())), dtype=np.int64)
        lengths = self._piece_count[entries]
        total = int(lengths.sum())
        if not len(mine) or total == 0:
            return out
        positions = np.repeat(self._piece_start[entries] - np.cumsum(lengths) + lengths,
                              lengths) + np.arange(total)
        unit = self.embedder.unit_pieces()
        theirs, inverse = self._distinct_pieces(self._pieces[positions], len(unit))
        # In numpy's own loop, not BLAS (see _cosines).
        sims = np.einsum("ij,kj->ik", unit[theirs], unit[mine])[inverse]
        has = lengths > 0
        weights = self._piece_idf[mine].astype(np.float64)
        best = np.maximum.reduceat(sims, (np.cumsum(lengths) - lengths)[has], axis=0)
        out[has] = (best @ weights) / weights.sum()
        return out

    def search(self, text: str, limit: int, *, prefix: bool = False) -> list[Scored]:
        """The best entries for `text`, best first, at most `limit`."""
        found = sorted(self.candidates(text, prefix=prefix), key=lambda c: (-c.score, c.entry))
        scored: list[Scored] = []
        for rank, c in enumerate(found[:limit]):
            rival = found[1 if rank == 0 else 0].score if len(found) > 1 else 0.0
            confidence = self.model.calibrated(c.features, c.score, rival)
            if scored:  # ranked lower, never more likely
                confidence = min(confidence, scored[-1].confidence)
            scored.append(Scored(c.entry, c.phrasing, confidence, c.score))
        return scored


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: int
    phrasing: int                # the entry's closest phrasing
    features: tuple[float, ...]  # see Model
    score: float


class _Rows:
    """Unit-length sparse vectors, one per row, stored by row (for exact dot products with
    chosen rows) and by feature, heaviest first (the postings, for finding rows)."""

    def __init__(self, indptr: IntArray, indices: npt.NDArray[np.int32],
                 data: npt.NDArray[np.float32], post_start: IntArray,
                 post_rows: npt.NDArray[np.int32], post_weights: npt.NDArray[np.float32]) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.row_length = np.diff(indptr)
        self.post_start, self.post_rows, self.post_weights = post_start, post_rows, post_weights
        self._scratch = threading.local()  # per thread: row sums (see _sparse_sums)

    @classmethod
    def build(cls, rows: IntArray, features: IntArray, weights: FloatArray,
              n_rows: int) -> tuple[_Rows, FloatArray]:
        """From (row, feature, weight) triples; repeated (row, feature) pairs add up. Also
        returns each triple's unit weight, in the input's order (to build centroids from).
        Stored compactly (32-bit ids and weights): half the memory of a big KB."""
        n_features = int(features.max()) + 1 if len(features) else 1
        unique, inverse = np.unique(rows * n_features + features, return_inverse=True)
        summed = np.bincount(inverse, weights=weights)
        r = unique // n_features
        f = (unique % n_features).astype(np.int32)
        del unique
        norms = np.sqrt(np.bincount(r, weights=summed * summed, minlength=n_rows))
        unit = summed / np.where(norms[r] > 0, norms[r], 1.0)
        del summed
        indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n_rows))])
        order = np.lexsort((-unit, f))
        post_start = np.searchsorted(f[order], np.arange(n_features + 1))
        return cls(indptr.astype(np.int64), f, unit.astype(np.float32),
                   post_start.astype(np.int64), r[order].astype(np.int32),
                   unit[order].astype(np.float32)), unit[inverse]

    def top(self, ids: IntArray, weights: FloatArray, k: int) -> IntArray:
        """About the k rows closest to the query, from at most POSTINGS_CAP postings per
        feature: the cost is bounded however many rows share a common word."""
        known = ids < len(self.post_start) - 1
        ids, weights = ids[known], weights[known]
        starts = self.post_start[ids]
        lengths = np.minimum(self.post_start[ids + 1] - starts, POSTINGS_CAP)
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        # Each feature's first postings: contiguous slices, copied rather than indexed.
        spans = [(a, a + n) for a, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
        touched = np.concatenate([self.post_rows[a:b] for a, b in spans])
        contributions: FloatArray = np.multiply(
            np.concatenate([self.post_weights[a:b] for a, b in spans]),
            np.repeat(weights, lengths), dtype=np.float64)
        # One feature's postings are distinct rows: their k-th best sum bounds the k-th best
        # of all from below, so that only the rows above it need be looked at. The weightiest
        # feature with k postings gives a close bound (at 10k entries, at the median, 70 rows
        # are above it, against 4,000 rows with a sum).
        sample = slice(0, 0)
        enough = np.flatnonzero(lengths >= k)
        if len(enough):
            feature = int(enough[np.argmax(weights[enough])])
            offset = int(lengths[:feature].sum())
            sample = slice(offset, offset + int(lengths[feature]))
        n_rows = len(self.indptr) - 1
        rows: IntArray
        sums: FloatArray
        if n_rows <= DENSE_ROWS:
            # Few rows: a sum per row is cheaper than the scratch array's bookkeeping.
            dense = np.bincount(touched, weights=contributions,
                                minlength=n_rows).astype(np.float64, copy=False)
            if sample.stop:
                bound = _kth_largest(dense[touched[sample]], k)
                if bound > 0:
                    above = np.flatnonzero(dense >= bound)
                    clear = _clear_top(above, dense[above], k)
                    if clear is not None:
                        return clear
            if n_rows <= FEW_ROWS:
                rows = np.flatnonzero(dense > 0)  # (a mask first: ten times faster at 30k)
            else:  # as _sparse_sums does, to choose the same rows among equal sums
                rows = _best_occurrences(touched, dense[touched], k * len(ids))
            sums = dense[rows]
        else:
            found = self._sparse_sums(touched, contributions, k * len(ids), sample, k)
            if not isinstance(found, tuple):
                return found
            rows, sums = found
        if len(rows) > k:
            keep = np.argpartition(sums, -k)[-k:]
            rows, sums = rows[keep], sums[keep]
        return rows[sums > 0]

    def _sparse_sums(self, touched: npt.NDArray[np.int32], contributions: FloatArray,
                     most: int, sample: slice,
                     k: int) -> IntArray | tuple[IntArray, FloatArray]:
        """The summed contributions per row, for many rows: in this thread's zeroed scratch
        array (sorting the postings instead cost 0.9 ms at 20,000 of them). The best k rows
        when they are clear-cut above the bound from `sample` (see top and _clear_top);
        else the rows that can be among the best `most` occurrences, and their sums: a row
        occurs at most once per query feature, so the best k rows are among the best
        k * features occurrences."""
        scratch: FloatArray | None = getattr(self._scratch, "sums", None)
        if scratch is None:
            scratch = self._scratch.sums = np.zeros(len(self.indptr) - 1)
        try:
            np.add.at(scratch, touched, contributions)
            per_posting = scratch[touched]
            if sample.stop:
                bound = _kth_largest(per_posting[sample], k)
                if bound > 0:
                    above = np.unique(touched[per_posting >= bound]).astype(np.int64)
                    clear = _clear_top(above, scratch[above], k)
                    if clear is not None:
                        return clear
            rows = _best_occurrences(touched, per_posting, most)
            sums: FloatArray = scratch[rows]
        finally:
            scratch[touched] = 0.0
        return rows, sums

    def dot(self, rows: IntArray, query: FloatArray) -> FloatArray:
        """Exact dot products of the query (a dense weight per feature) with each of `rows`."""
        lengths = self.row_length[rows]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return np.zeros(len(rows))
        positions = np.repeat(self.indptr[rows] - ends + lengths, lengths) + np.arange(total)
        contributions = self.data[positions] * query[self.indices[positions]]
        owner = np.repeat(np.arange(len(rows)), lengths)
        return np.bincount(owner, weights=contributions,
                           minlength=len(rows)).astype(np.float64, copy=False)


class _Cells:
    """An inverted-file index over unit vectors (as FAISS's IVF): spherical k-means puts the
    entries into about sqrt(n) cells, and a lookup compares the question with the cells'
    centres, then only with the entries of the PROBED_CELLS nearest cells. At 10,000 entries
    that reads a tenth of the vectors; the words' candidates are scored exactly whatever it
    finds."""

    def __init__(self, centres: npt.NDArray[np.float32], starts: IntArray, members: IntArray,
                 vectors: npt.NDArray[np.float32]) -> None:
        self.centres, self.starts, self.members, self.vectors = centres, starts, members, vectors
        self._bounds = starts.tolist()

    @classmethod
    def build(cls, rows: npt.NDArray[np.float32], *, iterations: int = 10,
              sample: int = 32_768, seed: int = 0) -> _Cells:
        n = len(rows)
        k = max(1, round(math.sqrt(n)))
        rng = np.random.default_rng(seed)  # seeded: the same KB gives the same cells
        train = rows[rng.choice(n, size=min(n, sample), replace=False)]
        centres = train[rng.choice(len(train), size=k, replace=False)].copy()
        for _ in range(iterations):
            nearest = np.argmax(train @ centres.T, axis=1)
            sums = np.zeros_like(centres)
            np.add.at(sums, nearest, train)
            empty = ~sums.any(axis=1)
            sums[empty] = centres[empty]  # an empty cell keeps its centre
            centres = _unit_rows(sums)
        nearest = np.concatenate([np.argmax(rows[i:i + 8192] @ centres.T, axis=1)
                                  for i in range(0, n, 8192)])
        members = np.argsort(nearest, kind="stable").astype(np.int64)
        starts = np.searchsorted(nearest[members], np.arange(k + 1)).astype(np.int64)
        return cls(centres, starts, members, np.ascontiguousarray(rows[members]))

    def top(self, question: npt.NDArray[np.float32], k: int) -> IntArray:
        """About the k rows closest to `question` (a unit vector)."""
        cells = _top_dense(_cosines(self.centres, question), PROBED_CELLS)
        bounds = self._bounds
        spans = [(bounds[c], bounds[c + 1]) for c in cells.tolist()]
        members = np.concatenate([self.members[a:b] for a, b in spans])
        cosines = np.concatenate([_cosines(self.vectors[a:b], question) for a, b in spans])
        found: IntArray = members[_top_dense(cosines, k)]
        return found


def _cosines(rows: npt.NDArray[np.float32],
             vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """rows @ vector, in numpy's own loop rather than BLAS: BLAS splits a product this size
    over threads, and on a busy server waiting for them made lookups 100 times slower
    (p50 16 ms instead of 0.3 ms at 20k entries, with the machine's two cores loaded)."""
    result: npt.NDArray[np.float32] = np.einsum("ij,j->i", rows, vector)
    return result


def _whitening(phrasings: npt.NDArray[np.float32], entry_of: IntArray,
               n_entries: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The KB's mean phrasing vector and a symmetric matrix that whitens the variation between
    phrasings of the same entry (shrunk towards the identity): directions in which one entry's
    phrasings differ among themselves count less when telling entries apart, as in linear
    discriminant analysis. Few phrasings per entry shrink it more; one each gives the
    identity (only the mean is removed). O(phrasings * dim^2) at build, nothing per lookup."""
    dim = phrasings.shape[1]
    identity = np.eye(dim, dtype=np.float32)
    if not len(phrasings):
        return np.zeros(dim, dtype=np.float32), identity
    # The KB's common component, removed in part only when the KB is small: the mean of a
    # handful of entries is mostly those entries (one entry minus its mean is nothing).
    mean = phrasings.mean(axis=0, dtype=np.float64) * (n_entries / (n_entries + MEAN_PRIOR))
    counts = np.bincount(entry_of, minlength=n_entries)
    entry_means = np.zeros((n_entries, dim))
    np.add.at(entry_means, entry_of, phrasings)
    entry_means /= np.maximum(counts, 1)[:, None]
    dof = len(phrasings) - int((counts > 0).sum())
    if dof <= 0:
        return mean.astype(np.float32), identity
    # Each phrasing's difference from its entry's mean, a block at a time (a big KB's
    # phrasings in float64 at once would be a quarter of a gigabyte).
    scatter = np.zeros((dim, dim))
    for start in range(0, len(phrasings), 16_384):
        block = slice(start, start + 16_384)
        within = phrasings[block] - entry_means[entry_of[block]]
        scatter += within.T @ within
    scatter /= dof
    target = float(np.trace(scatter)) / dim
    if target <= 0:
        return mean.astype(np.float32), identity
    shrink = WHITEN_SHRINK + (1 - WHITEN_SHRINK) * max(0.0, 1.0 - dof / (4 * dim))
    values, vectors = np.linalg.eigh((1 - shrink) * scatter + shrink * target * np.eye(dim))
    whiten = (vectors * (values / target) ** -0.5) @ vectors.T
    return mean.astype(np.float32), whiten.astype(np.float32)


def _unit_rows(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _top_dense(scores: npt.NDArray[np.float32], k: int) -> IntArray:
    if len(scores) <= k:
        return np.arange(len(scores), dtype=np.int64)
    return np.argpartition(scores, -k)[-k:].astype(np.int64)


def _best_occurrences(touched: npt.NDArray[np.int32], per_posting: FloatArray,
                      most: int) -> IntArray:
    """The distinct rows of the best `most` postings by their row's sum."""
    if len(per_posting) > most:
        touched = touched[np.argpartition(per_posting, -most)[-most:]]
    return np.unique(touched).astype(np.int64)


def _kth_largest(values: FloatArray, k: int) -> float:
    return float(np.partition(values, -k)[-k])


def _clear_top(above: IntArray, values: FloatArray, k: int) -> IntArray | None:
    """Of the rows `above` a bound that at least k rows reach (their sums `values`, none
    negative), the k best, when the k-th is larger than the (k+1)-th, so that they are the
    same rows whichever way they are found (argpartition's choice among equal sums is its
    own); else None."""
    if len(above) > k:
        above = above[values >= _kth_largest(values, k)]
    return above if len(above) == k else None


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
