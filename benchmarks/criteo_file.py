"""Write a Criteo-format ``train.txt`` of any size: the input of ``benchmarks/criteo_scale.py`` (issue 14).

The Kaggle file's shape, generated (nothing of the real data): 40 tab-separated columns, no header — a 0/1
label, 13 integer counts ``I1..I13`` (log-normal, 20 % empty, ``I2`` sometimes -1..-3 as in the real file) and
26 categorical ``C1..C26`` of 8 hex digits (4 % empty) whose ids follow a power law (``--zipf`` s, the most
frequent id first) over the Criteo Kaggle cardinalities capped at ``--vocab-cap``. Labels come from a planted
logistic model (a random effect per id of C1..C8 plus the log-count I1), so a model has something to learn; the
click rate is about 25 %.

Rows are made ``--chunk`` at a time with numpy and written by pyarrow's CSV writer (no Python object per row):
about 1 M rows/s here, 230 bytes a row.

    python benchmarks/criteo_file.py /tmp/criteo-5m.txt --rows 5000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_throughput import CRITEO_CARDINALITIES  # noqa: E402

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex8(values: np.ndarray) -> pa.Array:
    """uint32 values → 8-hex-digit strings, vectorised (a nibble lookup, no Python per value)."""
    v = values.astype(np.uint32)
    nibbles = (v[:, None] >> np.arange(28, -1, -4, dtype=np.uint32)) & 0xF           # (N, 8)
    raw = _HEX[nibbles].astype(np.uint8).reshape(-1)                                # (N * 8,) ascii bytes
    offsets = np.arange(0, 8 * len(v) + 1, 8, dtype=np.int32)
    return pa.StringArray.from_buffers(len(v), pa.py_buffer(offsets), pa.py_buffer(raw))


def power_law_ranks(rng: np.random.Generator, n: int, rows: int, s: float) -> np.ndarray:
    """``rows`` ranks in [0, n) with P(rank k) ∝ (k + 1)^-s (inverse CDF of a continuous power law)."""
    u = rng.random(rows)
    x = (n + 1) ** u if abs(s - 1) < 1e-9 else (1 - u * (1 - (n + 1) ** (1 - s))) ** (1 / (1 - s))
    return np.clip(np.floor(x).astype(np.int64) - 1, 0, n - 1)


def chunk(rng: np.random.Generator, rows: int, cards: list[int], s: float) -> pa.Table:
    """``rows`` rows of the Criteo format as an arrow table (strings for C*, nullable ints for I*)."""
    cols: dict[str, pa.Array] = {}
    counts = np.floor(np.exp(1.0 + 1.5 * rng.standard_normal((rows, 13)))).astype(np.int64)   # (N, 13)
    counts[:, 1] = np.where(rng.random(rows) < 0.05, -rng.integers(1, 4, rows), counts[:, 1])  # I2: -1..-3
    missing = rng.random((rows, 13)) < 0.2
    logit = 0.3 * (np.log1p(np.maximum(counts[:, 0], 0)) - 1.5)
    ids = []
    for j, n in enumerate(cards):
        r = power_law_ranks(rng, n, rows, s)
        if j < 8:                                        # a random effect per id, from a hash of (field, id)
            h = (r * 2654435761 + j * 97) % 1000
            logit += 0.8 * (h / 1000.0 - 0.5)
        ids.append(r)
    logit -= 1.2
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    cols["label"] = pa.array(label)
    for k in range(13):
        cols[f"I{k + 1}"] = pa.array(counts[:, k], mask=missing[:, k])
    for j, r in enumerate(ids):
        value = (r * 2246822519 + 0x9E3779B1 * (j + 1)) & 0xFFFFFFFF                  # an id's 8-hex "hash"
        text = hex8(value)
        empty = rng.random(rows) < 0.04
        cols[f"C{j + 1}"] = pa.compute.if_else(pa.array(empty), "", text)
    return pa.table(cols)


def write_criteo_file(path: str | Path, rows: int, *, vocab_cap: int = 1_000_000, zipf: float = 1.05,
                      seed: int = 0, chunk_rows: int = 500_000) -> Path:
    """Write ``rows`` Criteo-format rows to ``path`` (atomically: a temp file renamed into place)."""
    path = Path(path)
    cards = [min(c, vocab_cap) for c in CRITEO_CARDINALITIES]
    rng = np.random.default_rng(seed)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    opts = pcsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    try:
        with pa.OSFile(str(tmp), "wb") as sink:
            done = 0
            while done < rows:
                n = min(chunk_rows, rows - done)
                pcsv.write_csv(chunk(rng, n, cards, zipf), sink, opts)
                done += n
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="file to write, e.g. /tmp/criteo-5m.txt")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--vocab-cap", type=int, default=1_000_000, help="cap on each C field's cardinality")
    p.add_argument("--zipf", type=float, default=1.05, help="power-law exponent of the C ids")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    out = write_criteo_file(a.path, a.rows, vocab_cap=a.vocab_cap, zipf=a.zipf, seed=a.seed)
    s = time.perf_counter() - t0
    print(f"{out}: {a.rows:,} rows, {out.stat().st_size / 1e9:.2f} GB in {s:.1f} s ({a.rows / s:,.0f} rows/s)")


if __name__ == "__main__":
    main()
