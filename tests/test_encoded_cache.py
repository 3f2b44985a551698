"""The encoded cache (int32 ids on disk, memory-mapped) and the fast Criteo parser: same ids as the old path, a cached
load neither parses nor encodes, nothing half-written is left, bad files still get line-numbered errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

import ctrviz.data.criteo as cr
import ctrviz.data.encoded_cache as ec
import ctrviz.data.parquet_cache as pcache
from ctrviz.data.batch import CTRData
from ctrviz.data.criteo import load_criteo, read_criteo
from ctrviz.data.encoders import Vocabulary
from ctrviz.models import create
from ctrviz.train import TrainConfig, Trainer
from ctrviz.utils import seed_everything

TXT = Path(__file__).parent / "fixtures" / "criteo" / "train.txt"


def test_fit_codes_by_hand():
    # tokens a b c; train rows 0..5 hold a×2, b×1, c×3 → min_count 2 keeps c (id 2), a (id 3); b → OOV 1
    vocab, ids = ec.fit_codes(np.array([0, 1, 0, 2, 2, 2, 1]), pa.array(["a", "b", "c"]), np.arange(6), 2)
    assert vocab.tokens == ["c", "a"] and ids.dtype == np.int32 and ids.tolist() == [3, 1, 3, 2, 2, 2, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_codes_equals_vocabulary_fit_then_encode(seed):
    rng = np.random.default_rng(seed)
    tokens = np.array([f"t{k}" for k in rng.integers(0, 60, 2000)], dtype=object)   # many count ties
    train = np.sort(rng.choice(2000, 1500, replace=False))
    codes, uniques = pd.factorize(tokens)
    for min_count in (1, 3, 40):
        vocab, ids = ec.fit_codes(codes.astype(np.int32), pa.array(list(uniques)), train, min_count)
        ref = Vocabulary(min_count).fit(tokens[train])
        assert vocab.tokens == ref.tokens
        assert (ids == ref.encode(tokens)).all()


def test_load_criteo_ids_equal_the_reference_encoding(tmp_path):
    data = load_criteo(TXT, min_count=2, valid_fraction=0.0, test_fraction=0.0, cache=tmp_path)
    raw = read_criteo(TXT, cache=tmp_path)
    v = data.info["encoder"].vocabs
    assert v["C1"].tokens == ["68fd1e64", "05db9164"] and v["I5"].tokens == ["b21", "b47", "b1", "v0"]
    ref = Vocabulary(2).fit(raw.C2.tolist())
    assert (data.train.sparse[:, 14].numpy() == ref.encode(raw.C2.tolist())).all()   # C2 is the 15th field


def test_a_cached_load_maps_int32_arrays_and_neither_parses_nor_encodes(tmp_path, monkeypatch):
    first = load_criteo(TXT, min_count=2, cache=tmp_path)
    for name in ("_parse", "_fast_parse"):
        monkeypatch.setattr(cr, name, lambda *a: pytest.fail("parsed again"))
    monkeypatch.setattr(pcache, "build_encoded", lambda *a, **k: pytest.fail("encoded again"))
    again = load_criteo(TXT, min_count=2, cache=tmp_path)
    assert again.train.sparse.dtype == torch.int32 and again.train.sparse.shape == (10, 39)
    assert torch.equal(again.train.sparse, first.train.sparse) and torch.equal(again.test.label, first.test.label)
    rows = again.train[torch.tensor([3, 0])]                            # a mini-batch: int64 ids, gathered rows
    assert rows.sparse.dtype == torch.int64 and torch.equal(rows.sparse[1], again.train.sparse[0].long())
    folder = Path(again.info["encoded_cache"])
    before = (folder / "sparse.bin").read_bytes()
    again.train.sparse[0, 0] = 99                                       # copy-on-write: the file keeps its ids
    assert (folder / "sparse.bin").read_bytes() == before
    assert load_criteo(TXT, min_count=2, cache=tmp_path).train.sparse[0, 0] == first.train.sparse[0, 0]


def test_another_min_count_or_seed_is_another_encoding_of_the_same_parsed_table(tmp_path, monkeypatch):
    load_criteo(TXT, min_count=2, cache=tmp_path)
    monkeypatch.setattr(cr, "_fast_parse", lambda *a: pytest.fail("parsed again"))
    b = load_criteo(TXT, min_count=1, seed=3, cache=tmp_path)
    folders = sorted(p for p in (tmp_path / "criteo").iterdir() if p.is_dir())
    assert len(folders) == 2 and b.info["min_count"] == 1 and b.info["seed"] == 3
    assert len(b.info["encoder"].vocabs["C3"]) == 2 + 10            # min_count 1: every C3 value of train has an id


def test_a_failed_encoding_leaves_no_folder_and_no_temp(tmp_path):
    with pytest.raises(ValueError, match=r"no value of field 'I1' occurs min_count=100 times"):
        load_criteo(TXT, min_count=100, cache=tmp_path)
    assert list((tmp_path / "criteo").iterdir()) == []             # the parquet this load wrote went too


def test_orphaned_temp_folders_are_removed(tmp_path):
    load_criteo(TXT, min_count=2, cache=tmp_path)
    orphan = tmp_path / "criteo" / ".x.enc-0.999999999.ab12.tmp"    # a build whose process was killed
    orphan.mkdir()
    (orphan / "sparse.bin").write_bytes(b"half")
    load_criteo(TXT, min_count=1, cache=tmp_path)
    assert not orphan.exists()


def test_fast_parser_gives_the_line_parsers_table(tmp_path, monkeypatch):
    fast = read_criteo(TXT, cache=tmp_path / "a")
    monkeypatch.setattr(cr, "_fast_parse", lambda *a: (_ for _ in ()).throw(cr._NotFast()))
    slow = read_criteo(TXT, cache=tmp_path / "b")
    assert fast.equals(slow) and fast.C1.tolist()[:2] == ["68fd1e64", "05db9164"] and str(fast.I1.dtype) == "Int64"


def test_fast_parser_reads_gzip_whatever_the_name(tmp_path, monkeypatch):
    src = tmp_path / "train.txt"
    src.write_bytes(gzip.compress(TXT.read_bytes()))
    monkeypatch.setattr(cr, "_parse", lambda *a: pytest.fail("fell back to the line parser"))
    assert read_criteo(src, cache=tmp_path / "c").equals(read_criteo(TXT, cache=tmp_path / "d"))


def test_a_bad_value_falls_back_to_the_line_numbered_error(tmp_path):
    lines = TXT.read_text().splitlines()
    cols = lines[6].split("\t")
    cols[20] = "zzzzzzzz"
    src = tmp_path / "train.txt"
    src.write_text("\n".join(lines[:6] + ["\t".join(cols)] + lines[7:]) + "\n")
    with pytest.raises(ValueError, match=r"line 7: expected 8 hex digits or empty in C7, got 'zzzzzzzz'"):
        load_criteo(src, cache=tmp_path / "c")
    assert not (tmp_path / "c" / "criteo").exists() or list((tmp_path / "c" / "criteo").iterdir()) == []


def test_copy_of_cache_folder_loads_elsewhere(tmp_path):
    a = load_criteo(TXT, min_count=2, cache=tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = ec.load_encoded(Path(str(a.info["encoded_cache"]).replace(str(tmp_path / "a"), str(tmp_path / "b"))))
    assert torch.equal(a.valid.sparse, b.valid.sparse) and b.info["sizes"] == a.info["sizes"]


def test_training_on_the_mapped_int32_splits_equals_training_on_int64_copies(tmp_path):
    mapped = load_criteo(TXT, min_count=1, valid_fraction=0.25, test_fraction=0.25, seed=1, cache=tmp_path)
    copied = CTRData(mapped.name, mapped.schema, *(getattr(mapped, s)[:] for s in ("train", "valid", "test")),
                     mapped.info)
    assert mapped.train.sparse.dtype == torch.int32 and copied.train.sparse.dtype == torch.int64
    cfg = TrainConfig(epochs=2, batch_size=4, seed=0, progress=False, patience=0)
    runs = []
    for d in (mapped, copied):
        seed_everything(0)
        runs.append(Trainer(cfg).fit(create("deepfm", d.schema), d).history.drop(columns=["seconds", "samples_per_s"]))
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)
    assert len(runs[0]) == 2 and np.isfinite(runs[0]["train_loss"]).all()


def test_cache_clean_removes_a_killed_encoding_folder(tmp_path, capsys):
    from ctrviz import __main__ as cli

    orphan = tmp_path / "criteo" / ".x.enc-0.999999999.ab12.tmp"       # a build whose process was killed
    orphan.mkdir(parents=True)
    (orphan / "sparse.bin").write_bytes(b"x" * 1000)
    assert cli.main(["cache", "clean", "--cache", str(tmp_path)]) == 0
    assert not orphan.exists() and "1 temp file(s) of killed runs removed" in capsys.readouterr().out
