"""Your own table (ctrviz.data.table): the spec, CSV/TSV/gz/parquet/DataFrame → CTRData, splits, min_count, bad input,
the CLI (`train/reproduce --spec`, `ctrviz spec`), the Criteo CSV sample, and the spec in data/README.md.

The hand-checked table (LOG below), split by time with valid 0.2 / test 0.2: train = lines 2–7 (ts 10–60), valid =
lines 8–9, test = lines 10–11. `hist_ads` shares ad_id's vocabulary and keeps the last 2 tokens, so the train tokens
of vocabulary ad_id are ad_id a1 a2 a1 a3 a1 a2 and hist a2 a3 | a1 | a2 a3 | – | a3 | a1 a1: a1 ×6, a2 ×4, a3 ×4
→ ids a1 2, a2 3, a3 4 (ties by token); a4 only in valid/test → OOV (1). user_id: u1 ×3, u2 ×2, u3 ×1 → 2, 3, 4.
price (fill 0) on train: 1 3 0 5 2 4 → mean 2.5, std √(17.5/6).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ctrviz import __main__ as cli
from ctrviz.data import load_dataset
from ctrviz.data.encoders import log_bucket
from ctrviz.data.parquet_cache import random_split
from ctrviz.data.table import ColumnSpec, TableSpec, load_table
from ctrviz.data.table_inspect import inspect_table
from ctrviz.experiments import run_model
from ctrviz.train import TrainConfig, Trainer
from ctrviz.utils import seed_everything

LOG = """clicked,user_id,ad_id,price,hist_ads,ts
1,u1,a1,1.0,a2|a3,10
0,u2,a2,3.0,a1,20
1,u1,a1,,a1|a2|a3,30
0,u3,a3,5.0,,40
1,u2,a1,2.0,a3,50
0,u1,a2,4.0,a1|a1,60
1,u3,a1,6.0,a2,70
0,u2,a4,1.0,a1|a2,80
1,u1,a1,2.0,a4,90
0,u3,a2,3.0,a1,100
"""
SPEC = {"label": "clicked", "sparse": ["user_id", "ad_id"], "dense": {"price": {"fill": 0}},
        "sequence": {"hist_ads": {"sep": "|", "max_len": 2, "vocab": "ad_id"}}, "user": "user_id", "time": "ts",
        "split": {"by": "time", "valid": 0.2, "test": 0.2}, "pairs": [["ad_id", "hist_ads"]]}
README = Path(__file__).resolve().parents[1] / "data" / "README.md"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def log_csv(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text(LOG)
    return p


def cached_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def decode(data, split, field):
    """Tokens of a sparse field (list) or a list field (list of lists, padding dropped) in ``split``."""
    enc, b = data.info["encoder"], getattr(data, split)
    if field in data.schema.sparse_names:
        return enc.vocabs[data.schema[field].table].decode(b.sparse[:, data.schema.sparse_names.index(field)])
    vocab = enc.vocabs[data.schema[field].table]
    return [[t for t in vocab.decode(row) if t != "<pad>"] for row in b.seqs[field].tolist()]


# -- the hand-checked table -------------------------------------------------------------------------------------------
def check_log(d):
    assert d.info["sizes"] == {"train": 6, "valid": 2, "test": 2}
    assert d.train.label.tolist() == [1, 0, 1, 0, 1, 0] and d.test.label.tolist() == [1, 0]
    assert d.info["encoder"].vocabs["ad_id"].tokens == ["a1", "a2", "a3"]
    assert d.info["encoder"].vocabs["user_id"].tokens == ["u1", "u2", "u3"]
    assert decode(d, "train", "ad_id") == ["a1", "a2", "a1", "a3", "a1", "a2"]
    assert decode(d, "valid", "ad_id") == ["a1", "<oov>"]                          # a4 never in train
    assert d.train.seqs["hist_ads"].tolist() == [[3, 4], [2, 0], [3, 4], [0, 0], [4, 0], [2, 2]]
    assert decode(d, "test", "hist_ads") == [["<oov>"], ["a1"]]
    std = np.sqrt(17.5 / 6)
    assert d.train.dense[:, 0].tolist() == pytest.approx([(x - 2.5) / std for x in (1, 3, 0, 5, 2, 4)], abs=1e-6)
    assert d.test.dense[:, 0].tolist() == pytest.approx([(2 - 2.5) / std, (3 - 2.5) / std], abs=1e-6)
    assert d.schema.sparse_names == ("user_id", "ad_id") and d.schema.dense_names == ("price",)
    assert d.schema["hist_ads"].kind == "sequence" and d.schema["hist_ads"].table == "ad_id"
    assert d.schema.user_field == "user_id"
    assert [(p.induction, p.feed) for p in d.schema.pairs] == [("ad_id", "hist_ads")]
    assert d.train.group.tolist() == [0, 1, 0, 2, 1, 0]                        # raw users in order of first sight


def test_csv_with_header_decodes_back_to_its_tokens(log_csv, cache):
    d = load_table(log_csv, SPEC, cache=cache)
    check_log(d)
    assert d.name == "log" and d.info["source"] == str(log_csv)
    assert Path(d.info["cache_file"]).parent == cache / "table" and len(cached_files(cache)) == 1
    again = load_table(log_csv, {**SPEC, "min_count": 2}, cache=cache)          # same parse: the cache is reused
    assert cached_files(cache) == [Path(d.info["cache_file"])]
    assert again.info["encoder"].vocabs["user_id"].tokens == ["u1", "u2"]      # u3 once in train → OOV
    assert decode(again, "train", "user_id") == ["u1", "u2", "u1", "<oov>", "u2", "u1"]


def test_parquet_gz_tsv_quoted_and_dataframe_give_the_same_tensors(log_csv, tmp_path, cache):
    ref = load_table(log_csv, SPEC, cache=cache)
    df = pd.read_csv(log_csv)
    df.to_parquet(tmp_path / "log.parquet")
    (tmp_path / "log.csv.gz").write_bytes(gzip.compress(LOG.encode()))
    tsv = "\n".join(line.replace(",", "\t") for line in LOG.splitlines()[1:])      # no header: format.columns
    (tmp_path / "log.tsv").write_text(tsv + "\n")
    df.assign(hist_ads=df.hist_ads.str.replace("|", ", ")).to_csv(tmp_path / "quoted.csv", index=False)  # "a2, a3"
    assert '"a2, a3"' in (tmp_path / "quoted.csv").read_text()
    lists = df.assign(hist_ads=[v.split("|") if isinstance(v, str) else [] for v in df.hist_ads])
    others = [load_table(tmp_path / "log.parquet", SPEC, cache=cache),
              load_table(tmp_path / "log.csv.gz", SPEC, cache=cache),
              load_table(tmp_path / "log.tsv", {**SPEC, "format": {"header": False, "columns": list(df.columns)}},
                         cache=cache),
              load_table(tmp_path / "quoted.csv", {**SPEC, "sequence": {"hist_ads": {"sep": ",", "max_len": 2,
                                                                                     "vocab": "ad_id"}}}, cache=cache),
              load_table(df, SPEC), load_table(lists, SPEC)]
    for d in others:
        check_log(d)
        for s in ("train", "valid", "test"):
            a, b = getattr(ref, s), getattr(d, s)
            assert torch.equal(a.sparse, b.sparse) and torch.equal(a.dense, b.dense) and torch.equal(a.label, b.label)
            assert torch.equal(a.seqs["hist_ads"], b.seqs["hist_ads"])
    assert others[4].name == "table" and "cache_file" not in others[4].info


def test_random_and_last_k_splits_and_label_map(log_csv, cache):
    d = load_table(log_csv, {**SPEC, "split": {"by": "random", "valid": 0.2, "test": 0.3}}, seed=4, cache=cache)
    want = random_split(10, valid_fraction=0.2, test_fraction=0.3, seed=4)
    labels = np.array([1, 0] * 5, dtype=np.float32)
    for s in ("train", "valid", "test"):
        assert getattr(d, s).label.tolist() == labels[want[s]].tolist()
    fixed = load_table(log_csv, {**SPEC, "split": {"by": "random", "valid": 0.2, "test": 0.3, "seed": 4}}, seed=9,
                       cache=cache)                                                  # the spec's seed wins
    assert torch.equal(fixed.test.sparse, d.test.sparse)
    k = load_table(log_csv, {**SPEC, "split": {"by": "last_k", "k": 1}}, cache=cache)
    # each user's last row (by ts) is test, the one before valid: u2@80 u1@90 u3@100 | u2@50 u1@60 u3@70
    assert decode(k, "test", "user_id") == ["u2", "u1", "u3"] and decode(k, "valid", "user_id") == ["u2", "u1", "u3"]
    assert k.info["sizes"] == {"train": 4, "valid": 3, "test": 3}
    yes_no = LOG.replace("\n1,", "\nyes,").replace("\n0,", "\nno,")
    mapped = load_table(pd.read_csv(io.StringIO(yes_no), keep_default_na=False),
                        {**SPEC, "label": {"column": "clicked", "map": {"yes": 1, "no": 0}}, "dense": {"price":
                                                                                                        {"fill": 0}}})
    assert mapped.train.label.tolist() == [1, 0, 1, 0, 1, 0]


def test_min_count_makes_rare_train_tokens_oov(log_csv, cache):
    d = load_table(log_csv, {**SPEC, "min_count": {"default": 5, "user_id": 3}}, cache=cache)
    assert d.info["encoder"].vocabs["ad_id"].tokens == ["a1"]                    # a2, a3 seen 4 times < 5
    assert d.info["encoder"].vocabs["user_id"].tokens == ["u1"]                  # u2 ×2, u3 ×1 < 3
    assert decode(d, "train", "hist_ads") == [["<oov>", "<oov>"], ["a1"], ["<oov>", "<oov>"], [], ["<oov>"],
                                              ["a1", "a1"]]
    with pytest.raises(ValueError, match=r"no value of vocabulary 'user_id' occurs min_count=4 times in the train "
                                         r"split \(6 rows\); lower min_count"):
        load_table(log_csv, SPEC, cache=cache, min_count=4)


# -- the spec ---------------------------------------------------------------------------------------------------------
def test_spec_forms_yaml_and_toml():
    s = TableSpec.from_text("""
label: {column: y, map: {yes: 1, no: 0}}
sparse:
  - a
  - {names: [I1, I2], transform: log_bucket}
  - b: {min_count: 3}
dense: [p]
multi: {tags: {sep: "|", max_len: 4}}
pairs: ["a:tags", [b, tags], {induction: a, feed: b}]
format: {delimiter: tab, header: false, columns: [y, a, I1, I2, b, p, tags]}
""")
    assert s.label_map == {"yes": 1, "no": 0}                                     # YAML 1.2: yes/no stay text
    assert [(c.name, c.kind, c.transform, c.min_count) for c in s.columns] == [
        ("a", "sparse", "none", None), ("I1", "sparse", "log_bucket", None), ("I2", "sparse", "log_bucket", None),
        ("b", "sparse", "none", 3), ("p", "dense", "standardize", None), ("tags", "multi", "none", None)]
    assert [(p.induction, p.feed) for p in s.pairs] == [("a", "tags"), ("b", "tags"), ("a", "b")]
    assert s.format.delimiter == "\t" and s.table_min_counts() == {"a": 1, "I1": 1, "I2": 1, "b": 3, "tags": 1}
    t = TableSpec.from_text('label = "y"\nsparse = ["a"]\n[split]\nby = "random"\nseed = 3\n', "toml")
    assert t.split.seed == 3 and t.columns == (ColumnSpec("a", "sparse"),)


@pytest.mark.parametrize("spec, match", [
    ({"label": "y", "sparse": ["a"], "splt": {}}, r"unknown key 'splt' \(did you mean 'split'\?\)"),
    ({"sparse": ["a"]}, r"label is required"),
    ({"label": "y"}, r"no feature columns"),
    ({"label": "y", "sparse": {"a": {"max_len": 3}}}, r"sparse column 'a': unknown key 'max_len'"),
    ({"label": "y", "sequence": {"h": {"sep": "|"}}}, r"sequence column 'h': max_len must be an int >= 1, got 0"),
    ({"label": "y", "sequence": {"h": {"sep": "", "max_len": 2}}}, r"sep must be a non-empty string \(quote it"),
    ({"label": "y", "sparse": {"a": {"min_count": 0}}}, r"sparse column 'a': min_count must be an int >= 1, got 0"),
    ({"label": "y", "dense": {"p": {"transform": "log_bucket"}}}, r"dense column 'p': transform must be one of"),
    ({"label": "y", "dense": {"p": {"fill": "zero"}}}, r"dense column 'p': fill is a finite number"),
    ({"label": "y", "sparse": ["a"], "dense": ["a"]}, r"column 'a' is listed twice \(sparse and dense\)"),
    ({"label": "y", "sparse": ["y"]}, r"the label column 'y' is also listed under sparse"),
    ({"label": {"column": "y", "map": {"a": 2}}, "sparse": ["a"]}, r"label.map\['a'\] must be 0 or 1, got 2"),
    ({"label": "y", "sparse": ["a"], "split": {"by": "time"}}, r"split by: time needs a time column"),
    ({"label": "y", "sparse": ["a"], "split": {"by": "last_k"}}, r"split by: last_k needs a user column"),
    ({"label": "y", "sparse": ["a"], "split": {"valid": 0.0}}, r"split.valid must be a fraction in \(0, 1\)"),
    ({"label": "y", "sparse": ["a"], "split": {"valid": 0.5, "test": 0.5}}, r"split.valid \+ split.test must be < 1"),
    ({"label": "y", "sparse": ["a"], "split": {"by": "random", "k": 2}}, r"split \(by: random\): unknown key 'k'"),
    ({"label": "y", "sparse": ["a"], "split": {"by": "hash"}}, r"split.by must be one of"),
    ({"label": "y", "sparse": ["a"], "min_count": {"b": 2}}, r"min_count: unknown key 'b'"),
    ({"label": "y", "sparse": ["a"], "min_count": 0}, r"min_count must be an int >= 1, got 0"),
    ({"label": "y", "sparse": ["a"], "pairs": [["a", "hist"]]}, r"pairs: feed field 'hist' is not a feature column"),
    ({"label": "y", "sparse": ["a"], "dense": ["p"], "pairs": ["a:p"]}, r"pairs: feed field 'p' is dense"),
    ({"label": "y", "sparse": ["a"], "user": "p", "dense": ["p"]}, r"user column 'p' is listed under dense"),
    ({"label": "y", "sparse": ["a"], "time": "a"}, r"time column 'a' is also sparse column"),
    ({"label": "y", "sparse": ["a"], "format": {"delimiter": ";;"}}, r"format.delimiter must be one character"),
    ({"label": "y", "sparse": ["a"], "format": {"columns": ["y", "a"]}}, r"format.columns .* set header: false"),
    ({"label": "y", "sparse": {"a": {"min_count": 3}, "b": {"min_count": 2, "vocab": "a"}}},
     r"columns 'a' and 'b' share vocabulary 'a' but ask for min_count 3 and 2; give one value"),
])
def test_impossible_specs_are_one_line_errors_naming_the_key(spec, match):
    with pytest.raises(ValueError, match=match) as e:
        TableSpec.from_dict(spec)
    assert "\n" not in str(e.value) and str(e.value).startswith("spec: ")


def test_spec_files_yaml_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("label: y\nsparse: [a\n")
    with pytest.raises(ValueError, match=r"s.yaml: spec: not valid YAML"):
        TableSpec.load(tmp_path / "s.yaml")
    (tmp_path / "s.ini").write_text("x")
    with pytest.raises(ValueError, match=r"a spec file ends in .yaml, .yml, .toml or .json"):
        TableSpec.load(tmp_path / "s.ini")


# -- bad input: one line naming the line/column and the fix; nothing cached ----------------------------------------
def _replace_line(text: str, number: int, line: str) -> str:
    lines = text.splitlines()
    lines[number - 1] = line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name, content, spec, match", [
    ("log.csv", LOG, {"sparse": ["user_id", "adid"], "pairs": []},
     r"log.csv: the spec names column 'adid' \(sparse\) but the table has no such column \(did you mean 'ad_id'\?\)"),
    ("log.csv", LOG.replace(",", ";"), {}, r"its header is one column .*: set format: \{delimiter: ';'\}"),
    ("log.csv", _replace_line(LOG, 4, "2,u1,a1,,a1|a2|a3,30"), {},
     r"log.csv: line 4: label column 'clicked' holds '2', expected 0 or 1; declare what the values mean: label: "
     r"\{column: clicked, map:"),
    ("log.csv", LOG, {"label": {"column": "clicked", "map": {"1": 1}}},
     r"line 3: label column 'clicked' holds '0', which label.map does not list \('1'\); add it to label.map"
     r"|line 3: label column 'clicked' holds '0', which label.map does not list"),
    ("log.csv", LOG, {"sequence": {"hist_ads": {"sep": ";", "max_len": 2, "vocab": "ad_id"}}},
     r"log.csv: column 'hist_ads': no value holds the declared separator ';' but 4 of 9 non-empty values hold '\|' "
     r"\(the first on line 2\); set sep: '\|'"),
    ("log.csv", LOG, {"sequence": {"hist_ads": {"max_len": 2, "vocab": "ad_id"}}},
     r"line 2: sequence column 'hist_ads' holds text 'a2\|a3'; declare its separator"),
    ("log.csv", _replace_line(LOG, 3, "0,u2,a2,cheap,a1,20"), {},
     r"log.csv: line 3: dense column 'price' holds 'cheap', not a number; fix the value, or list the column under "
     r"sparse"),
    ("log.csv", LOG, {"dense": ["price"]},
     r"log.csv: line 4: dense column 'price' is empty; give it a fill value \(dense: \{price: \{fill: 0\}\}\)"),
    ("log.csv", _replace_line(LOG, 5, "0,u3,a3,5.0,40"), {},
     r"log.csv: line 5: expected 6 ','-separated columns, got 5"),
    ("log.csv", LOG, {"split": {"by": "random", "valid": 0.01, "test": 0.1}},
     r"log.csv: the valid split is empty \(10 rows, split random"),
    ("log.csv", LOG, {"split": {"by": "last_k", "k": 4}}, r"log.csv: the train split is empty"),
    ("log.csv", b"PAR1 not text", {}, r"log.csv: is a parquet file, not csv; set format: \{type: parquet\}"),
    ("log.parquet", LOG, {}, r"log.parquet: is not a parquet file \(it does not start with PAR1\); if it is text, "
                             r"set format: \{type: csv\}"),
    ("log.csv", gzip.compress(LOG.encode()), {},
     r"log.csv: is gzip-compressed but its name does not end in .gz; rename it to log.csv.gz"),
    ("log.csv.gz", LOG, {}, r"log.csv.gz: is named .gz but is not gzip-compressed; rename it to log.csv"),
    ("log.dat", LOG, {}, r"log.dat: cannot tell the format from the name; set format: \{type: csv\}"),
    ("log.csv", LOG.encode() + b"\xff\xfe,\x00\n", {}, r"log.csv: line 12: expected utf-8 text \(is it binary\?"),
    ("log.csv", "clicked,user_id,ad_id,price,hist_ads,ts\n", {}, r"log.csv: no data rows"),
])
def test_bad_input_is_one_line_naming_the_place_and_nothing_is_cached(tmp_path, cache, name, content, spec, match):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=match) as e:
        load_table(p, {**SPEC, **spec}, cache=cache, chunksize=3)
    assert "\n" not in str(e.value)
    assert cached_files(cache) == []


def test_a_failed_load_keeps_an_earlier_good_cache(log_csv, cache):
    good = load_table(log_csv, SPEC, cache=cache)
    with pytest.raises(ValueError, match="lower min_count"):
        load_table(log_csv, SPEC, cache=cache, min_count=100)
    assert cached_files(cache) == [Path(good.info["cache_file"])]


def test_dataframe_errors_name_the_row():
    df = pd.read_csv(io.StringIO(LOG))
    with pytest.raises(ValueError, match=r"DataFrame: row 2: dense column 'price' is empty"):
        load_table(df, {**SPEC, "dense": ["price"]})
    with pytest.raises(ValueError, match=r"DataFrame: the spec names column 'nope' \(sparse\)"):
        load_table(df, {**SPEC, "sparse": ["user_id", "nope"], "pairs": []})


# -- training: DataFrame / Trainer, and the CLI ----------------------------------------------------------------------
def clicks(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A click log no reader knows: the click follows ad_id's parity, flipped 10 % of the time."""
    rng = np.random.default_rng(seed)
    ad = rng.integers(0, 12, n)
    return pd.DataFrame({
        "clicked": ((ad % 2 == 0) ^ (rng.random(n) < 0.1)).astype(int),
        "user_id": [f"u{k}" for k in rng.integers(0, 40, n)],
        "ad_id": [f"ad{k}" for k in ad], "site": rng.choice(["news", "games", "shop"], n),
        "price": np.where(rng.random(n) < 0.05, np.nan, rng.normal(10, 3, n).round(2)),
        "hist_ads": ["|".join(f"ad{k}" for k in rng.integers(0, 12, rng.integers(0, 6))) for _ in range(n)],
        "ts": 1_700_000_000 + 60 * np.arange(n)})


def test_a_dataframe_trains_with_run_model_and_the_trainer():
    data = load_table(clicks(), {**SPEC, "sequence": {"hist_ads": {"sep": "|", "max_len": 5, "vocab": "ad_id"}},
                                 "split": {"by": "random", "valid": 0.2, "test": 0.2, "seed": 1}})
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.02, progress=False, device="cpu", patience=0)
    row, result = run_model("dnn", data, cfg)
    assert row["data"] == "table" and row["epochs"] == 3 and row["auc"] > 0.7 and 0 <= row["gauc"] <= 1
    seed_everything(0)
    from ctrviz.models import create
    model = create("can", data.schema)
    res = Trainer(cfg).fit(model, data)
    assert np.isfinite(res.history["train_loss"]).all() and res.test["auc"] > 0.7


def test_cli_trains_a_csv_and_a_parquet_file_with_a_spec(tmp_path, cache, capsys):
    df = clicks()
    df.to_csv(tmp_path / "clicks.csv", index=False)
    df.to_parquet(tmp_path / "clicks.parquet")
    spec = tmp_path / "clicks.yaml"
    spec.write_text("label: clicked\nsparse: [user_id, ad_id, site]\ndense: {price: {fill: 0}}\n"
                    "sequence: {hist_ads: {sep: '|', max_len: 5, vocab: ad_id}}\nuser: user_id\n")
    rows = []
    for src in ("clicks.csv", "clicks.parquet"):
        assert cli.main(["train", "--model", "dnn", "--data", str(tmp_path / src), "--spec", str(spec), "--epochs",
                         "1", "--json", "--no-progress", "--cache", str(cache)]) == 0
        rows.append(json.loads(capsys.readouterr().out))
    assert [r["data"] for r in rows] == ["clicks", "clicks"] and rows[0]["auc"] == rows[1]["auc"]
    assert 0 <= rows[0]["auc"] <= 1 and "gauc" in rows[0]
    # a file without --spec, a registered name with --spec, a bad spec: one line, exit 2
    for argv, match in ([["--data", str(tmp_path / "clicks.csv")], "is a file; describe its columns with --spec"],
                        [["--data", "synthetic", "--spec", str(spec)], "--data synthetic is a registered dataset"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["train", "--model", "dnn", *argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and match in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("label: clicked\nsparse: [user_id, adid]\n")
    empty = tmp_path / "empty-cache"
    assert cli.main(["train", "--model", "dnn", "--data", str(tmp_path / "clicks.csv"), "--spec", str(bad),
                     "--cache", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ctrviz: error: ") and err.count("\n") == 1 and "did you mean 'ad_id'" in err
    assert cached_files(empty) == []


def test_cli_reproduce_takes_a_spec(tmp_path, cache, capsys):
    clicks().to_csv(tmp_path / "clicks.csv", index=False)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({**SPEC, "sequence": {"hist_ads": {"sep": "|", "max_len": 5, "vocab": "ad_id"}},
                                "split": {"by": "random", "valid": 0.2, "test": 0.2}}))
    assert cli.main(["reproduce", "can-table2", "--data", str(tmp_path / "clicks.csv"), "--spec", str(spec),
                     "--quick", "--skip", "cartesian", "can+cartesian", "--out", str(tmp_path / "out"), "--cache",
                     str(cache), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "dnn" in out and "can" in out and len(list((tmp_path / "out").glob("can-table2-clicks-quick*.csv"))) == 2


def test_cli_spec_writes_a_starter_spec_that_trains(tmp_path, cache, capsys):
    df = clicks()
    df.insert(0, "row_id", [f"r{k}" for k in range(len(df))])
    df.to_csv(tmp_path / "clicks.csv.gz", index=False, sep=";")
    assert cli.main(["spec", str(tmp_path / "clicks.csv.gz")]) == 0
    out = capsys.readouterr().out
    spec_file = tmp_path / "clicks.yaml"
    assert f"Wrote {spec_file}" in out and "hist_ads" in out and "sequence" in out
    summary = inspect_table(tmp_path / "clicks.csv.gz").summary.set_index("column")
    assert summary["guess"].to_dict() == {"row_id": "skip", "clicked": "label", "user_id": "user", "ad_id": "sparse",
                                          "site": "sparse", "price": "dense", "hist_ads": "sequence", "ts": "time"}
    assert summary.loc["price", "missing"] == pytest.approx(df.price.isna().mean())
    assert summary.loc["ad_id", "distinct"] == 12 and summary.loc["site", "distinct"] == 3
    spec = TableSpec.load(spec_file)
    assert spec.format.delimiter == ";" and spec.user == "user_id" and spec.time == "ts"
    assert spec.columns[-1] == ColumnSpec("hist_ads", "sequence", vocab="ad_id", max_len=5, sep="|")
    assert [(p.induction, p.feed) for p in spec.pairs] == [("ad_id", "hist_ads")]
    assert cli.main(["train", "--model", "can", "--data", str(tmp_path / "clicks.csv.gz"), "--spec", str(spec_file),
                     "--epochs", "1", "--json", "--no-progress", "--cache", str(cache)]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["auc"] <= 1
    assert cli.main(["spec", str(tmp_path / "clicks.csv.gz")]) == 2                 # never overwrites your edits
    assert "exists (your edits?); pass --force" in capsys.readouterr().err


# -- the widely copied Criteo CSV sample, with a 5-line spec -------------------------------------------------------
def criteo_sample(path: Path, n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A plausible (made-up) copy of the 200-row Criteo CSV sample: header label,I1..I13,C1..C26, commas, counts
    written as floats (260.0), empty values; the click follows C1."""
    rng = np.random.default_rng(seed)
    cols = {}
    for k in range(1, 14):
        v = np.floor(rng.lognormal(1.0 + k % 4, 1.2, n))
        cols[f"I{k}"] = np.where(rng.random(n) < 0.15, np.nan, v - (2 if k == 2 else 0))
    for k in range(1, 27):
        pool = [f"{x:08x}" for x in rng.integers(0, 2**32, int(rng.integers(2, 40)))]
        cols[f"C{k}"] = np.where(rng.random(n) < 0.05, "", rng.choice(pool, n))
    df = pd.DataFrame(cols)
    df.insert(0, "label", (pd.factorize(df.C1)[0] % 3 == 0).astype(int))
    df.to_csv(path, index=False)                                    # floats with NaN → "260.0" and ""
    return df


def readme_blocks() -> list[str]:
    section = README.read_text().split("## Your own table", 1)[1]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.S)


def test_criteo_csv_sample_trains_with_the_five_line_spec_and_min_count_1(tmp_path, cache, capsys):
    csv_path = tmp_path / "criteo_sample.csv"
    df = criteo_sample(csv_path)
    assert csv_path.read_text().splitlines()[0] == ",".join(["label", *(f"I{k}" for k in range(1, 14)),
                                                              *(f"C{k}" for k in range(1, 27))])
    assert re.search(r",\d+\.0,", csv_path.read_text().splitlines()[1]) and ",," in csv_path.read_text()
    five = readme_blocks()[-1]
    assert len(five.strip().splitlines()) == 5
    spec = tmp_path / "criteo.yaml"
    spec.write_text(five)
    argv = ["train", "--model", "dnn", "--data", str(csv_path), "--spec", str(spec), "--epochs", "1", "--json",
            "--no-progress", "--cache", str(cache)]
    assert cli.main(argv) == 2                                                       # min_count 10 on 160 rows
    assert "lower min_count (in the spec, or --min-count 1)" in capsys.readouterr().err
    assert cached_files(cache) == []
    assert cli.main([*argv, "--min-count", "1"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["data"] == "criteo_sample" and 0 <= row["auc"] <= 1
    d = load_dataset(str(csv_path), spec=spec, min_count=1, cache=cache)
    assert d.info["sizes"] == {"train": 160, "valid": 20, "test": 20} and len(d.schema.sparse_names) == 39
    split = random_split(200, valid_fraction=0.1, test_fraction=0.1, seed=0)
    for field, raw in (("I5", log_bucket(df.I5)), ("I2", log_bucket(df.I2)), ("C7", df.C7.fillna("").to_numpy())):
        seen = set(raw[split["train"]])
        assert decode(d, "test", field) == [t if t in seen else "<oov>" for t in raw[split["test"]]]
    assert "nan" in d.info["encoder"].vocabs["I5"].tokens                            # empty counts: their own token


# -- the docs run ----------------------------------------------------------------------------------------------------
def test_the_spec_in_data_readme_loads_and_trains(tmp_path, cache):
    spec = TableSpec.from_text(readme_blocks()[0])
    assert spec.name == "clicks" and spec.split.by == "time" and spec.table_min_counts()["site"] == 1
    clicks().to_csv(tmp_path / "clicks.csv", index=False)
    d = load_table(tmp_path / "clicks.csv", spec, cache=cache)
    assert d.name == "clicks" and d.info["sizes"] == {"train": 280, "valid": 40, "test": 80}
    assert d.schema.seq_names == ("hist_ads",) and d.schema["hist_ads"].max_len == 5
    row, _ = run_model("can", d, TrainConfig(epochs=1, batch_size=64, progress=False, device="cpu"))
    assert 0 <= row["auc"] <= 1
