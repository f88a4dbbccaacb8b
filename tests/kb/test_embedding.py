"""The static embedder and its WordPiece tokenizer, checked against Hugging Face `tokenizers`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from chatkit.kb.embedding import VECTORS_DIR, StaticEmbedder, WordPiece

CLINC = Path(os.environ.get("CHATKIT_CLINC150", "/work/shared/data/clinc150/data_full.json"))
TRICKY = [
    "Héllo, WORLD!! naïve café — “quotes” 東京 emoji 😀 tab\there", "x" * 150, "", "   ",
    "a\u0000b\u200bc\ufffd", "don't can't won't", "¿Cuánto tarda el envío?", "ﬁne ligature",
    "İstanbul", "e-mail: ada@example.com, +44 (0)20 7946-0958", "unaffordableness",
    "ÀÉÎÕÜ ß æ ø", "1,000.50$", "x\u0301\u0302", "\U0001F600\U0001F600", "a\r\nb",
    "ascii controls a\x0bb\x1fc\x7fd\x00e\tf\x0cg [x]{y}~`z^_|\\@#", "MiXeD CaSe 42x",
]


@pytest.fixture(scope="module")
def reference() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(VECTORS_DIR / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@pytest.fixture(scope="module")
def wordpiece() -> WordPiece:
    return WordPiece.from_tokenizer_json(VECTORS_DIR / "tokenizer.json")


def test_wordpiece_agrees_with_tokenizers_on_tricky_text(reference: Tokenizer,
                                                         wordpiece: WordPiece) -> None:
    for text in TRICKY:
        assert wordpiece.ids(text) == reference.encode(text, add_special_tokens=False).ids, text


def test_wordpiece_agrees_with_tokenizers_on_clinc150(reference: Tokenizer,
                                                      wordpiece: WordPiece) -> None:
    if not CLINC.exists():
        pytest.skip(f"CLINC150 not found at {CLINC} (set CHATKIT_CLINC150)")
    data = json.loads(CLINC.read_text())
    texts = [text for split in ("train", "oos_train") for text, _ in data[split]]
    mismatched = [t for t in texts
                  if wordpiece.ids(t) != reference.encode(t, add_special_tokens=False).ids]
    assert mismatched == []


def test_wordpiece_refuses_a_tokenizer_of_another_kind(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "BPE", "vocab": {}}}))
    with pytest.raises(ValueError, match="not a WordPiece"):
        WordPiece.from_tokenizer_json(path)


def test_embeddings_are_unit_vectors_and_mean_something() -> None:
    embedder = StaticEmbedder.load()
    vectors = embedder.embed_many(["how do I reset my password", "I forgot my passcode",
                                   "what time do you close on sundays", ""])
    assert vectors.shape == (4, embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert not vectors[3].any()  # nothing known: the zero vector
    related, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert related > unrelated + 0.2
    assert np.allclose(embedder.embed("how do I reset my password"), vectors[0], atol=1e-6)
