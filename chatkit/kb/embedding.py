"""Static word-piece embeddings: a sentence vector from a table lookup, no neural network.

The table (chatkit/kb/vectors/vectors.npz) is distilled from
sentence-transformers/all-MiniLM-L6-v2 by scripts/distil_vectors.py, the way model2vec does
it: every vocabulary token's output from the model, reduced by PCA and weighted so that
frequent tokens count less. A text's vector is the normalised sum of its tokens' rows. The
text is split by the model's own WordPiece vocabulary (chatkit/kb/vectors/tokenizer.json)
with BERT's uncased rules, in `WordPiece` below. Only numpy is needed at run time.

Why not the `tokenizers` package: it brings huggingface-hub and an HTTP stack with it, for what
is here a few dozen lines of well-specified rules applied to short questions. The test suite
checks `WordPiece` against `tokenizers` token for token (tests/kb/test_embedding.py).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
FORMAT_VERSION = 1
VECTOR_LANGUAGES = frozenset({"en"})  # what the bundled vectors were trained on

_bundled: StaticEmbedder | None = None
_bundled_lock = threading.Lock()

FloatArray = npt.NDArray[np.float32]

# Printable ASCII is a letter or digit, white space, or punctuation (BERT's rule below); the
# other ASCII characters are controls, removed without splitting (tab, CR and LF split).
_ASCII_TOKEN = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_punctuation(ch: str) -> bool:
    # BERT counts every non-alphanumeric printable ASCII character as punctuation.
    code = ord(ch)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F
            or 0x2B820 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF
            or 0x2F800 <= code <= 0x2FA1F)


class WordPiece:
    """BERT's uncased tokenizer: clean, lower case, strip accents, split on white space and
    punctuation (and around CJK characters), then split each word into the longest pieces the
    vocabulary has, continuation pieces prefixed with "##"; a word that cannot be split, or
    longer than 100 characters, is [UNK]."""

    def __init__(self, vocab: Mapping[str, int], *, unk: str = "[UNK]",
                 max_word: int = 100) -> None:
        self.vocab = dict(vocab)
        self.unk_id = self.vocab[unk]
        self.max_word = max_word
        self._cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_tokenizer_json(cls, path: Path) -> WordPiece:
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
        if model.get("type") != "WordPiece" or model.get("continuing_subword_prefix") != "##":
            raise ValueError(f"{path}: not a WordPiece tokenizer with '##' continuations")
        return cls(model["vocab"], unk=model["unk_token"],
                   max_word=model["max_input_chars_per_word"])

    def words(self, text: str) -> list[str]:
        if text.isascii():  # most questions: the same rules, in the regex engine
            return _ASCII_TOKEN.findall(_ASCII_CONTROL.sub("", text.lower()))
        out: list[str] = []
        for ch in unicodedata.normalize("NFD", text.lower()):
            code = ord(ch)
            category = unicodedata.category(ch)
            if code == 0 or code == 0xFFFD or (category.startswith("C") and ch not in "\t\n\r"):
                continue
            if category == "Mn":
                continue  # an accent, after NFD
            if ch.isspace() or category == "Zs":
                out.append(" ")
            elif _is_punctuation(ch) or _is_cjk(code):
                out.extend((" ", ch, " "))
            else:
                out.append(ch)
        return "".join(out).split()

    def ids(self, text: str) -> list[int]:
        result: list[int] = []
        for word in self.words(text):
            pieces = self._cache.get(word)
            if pieces is None:
                pieces = self._split(word)
                if len(self._cache) < 200_000:
                    self._cache[word] = pieces
            result.extend(pieces)
        return result

    def _split(self, word: str) -> tuple[int, ...]:
        if len(word) > self.max_word:
            return (self.unk_id,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    pieces.append(found)
                    break
                end -= 1
            else:
                return (self.unk_id,)
            start = end
        return tuple(pieces)


class StaticEmbedder:
    """Embeds texts as L2-normalised float32 vectors of `dim` numbers.

    A text with no known token (empty, or only [UNK] pieces) embeds as the zero vector, so its
    cosine with anything is 0. Instances are read-only after construction and safe to share
    between threads."""

    def __init__(self, vectors: npt.NDArray[np.int8], scales: npt.NDArray[np.floating[Any]],
                 tokenizer: WordPiece, *, meta: dict[str, Any] | None = None) -> None:
        if vectors.ndim != 2 or scales.shape != (vectors.shape[0],):
            raise ValueError("vectors must be (vocab, dim) and scales (vocab,)")
        if max(tokenizer.vocab.values()) >= vectors.shape[0]:
            raise ValueError("the tokenizer's vocabulary is larger than the vector table")
        self._vectors = vectors
        self._scales = scales.astype(np.float32)
        self._tokenizer = tokenizer
        self.meta: dict[str, Any] = dict(meta or {})
        self._unit: FloatArray | None = None

    @classmethod
    def load(cls, directory: Path | None = None) -> StaticEmbedder:
        """Load `vectors.npz` and `tokenizer.json` from `directory` (default: the bundled
        vectors)."""
        directory = VECTORS_DIR if directory is None else directory
        with np.load(directory / "vectors.npz", allow_pickle=False) as data:
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.int8)
            scales = data["scales"]
            meta: dict[str, Any] = json.loads(str(data["meta"])) if "meta" in data else {}
        if meta.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise ValueError(f"unsupported vectors format {meta.get('format')!r}")
        tokenizer = WordPiece.from_tokenizer_json(directory / "tokenizer.json")
        return cls(vectors, scales, tokenizer, meta=meta)

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def token_ids(self, text: str) -> npt.NDArray[np.int64]:
        """The word-piece ids of `text`, [UNK] dropped."""
        unk = self._tokenizer.unk_id
        return np.asarray([i for i in self._tokenizer.ids(text) if i != unk], dtype=np.int64)

    def _pool(self, ids: npt.NDArray[np.int64]) -> FloatArray:
        if ids.size == 0:
            return np.zeros(self.dim, dtype=np.float32)
        total = self._scales[ids] @ self._vectors[ids].astype(np.float32)
        norm = float(np.linalg.norm(total))
        if norm == 0.0:
            return np.zeros(self.dim, dtype=np.float32)
        return (total / norm).astype(np.float32, copy=False)

    def pool(self, ids: npt.NDArray[np.int64]) -> FloatArray:
        """The unit vector of the word pieces `ids` (from `token_ids`), shape (dim,)."""
        return self._pool(ids)

    def unit_pieces(self) -> FloatArray:
        """Every word piece's vector at unit length, shape (vocab, dim), made once (15 MB)."""
        if self._unit is not None:  # every lookup asks: no lock once it is made
            return self._unit
        with _bundled_lock:
            if self._unit is None:
                rows = self._vectors.astype(np.float32) * self._scales[:, None]
                norms = np.linalg.norm(rows, axis=1, keepdims=True)
                self._unit = (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
            unit: FloatArray = self._unit
            return unit

    def embed(self, text: str) -> FloatArray:
        """The unit vector of `text`, shape (dim,)."""
        return self._pool(self.token_ids(text))

    def embed_many(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors of `texts`, shape (len(texts), dim)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        for row, text in enumerate(texts):
            out[row] = self._pool(self.token_ids(text))
        return out


def bundled_embedder() -> StaticEmbedder:
    """The bundled vectors, loaded once per process (about 4 MB; thread-safe)."""
    global _bundled
    with _bundled_lock:
        if _bundled is None:
            _bundled = StaticEmbedder.load()
        return _bundled
