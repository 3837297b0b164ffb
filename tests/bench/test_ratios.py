import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from bench.cli import app
from bench.cost import measure_training_cost
from bench.ratios import labeled_hash, make_split, split_folder
from bench.runs import RunResult
from bench.sweep import run_folder
from bench.systems import System
from spacy_lowner.training.sampling import CoverTooLargeError, sample_labeled

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "configs"


def result(system, seed, ratio, f):
    return RunResult(
        system, seed, f"{system}.cfg", steps=10, epochs=1, train_seconds=1.0, dev_f=f,
        test={"ents_f": f}, ratio=ratio, dev_curve=[(0, 0.0), (5, f), (10, f / 2)],
    )


def finish_run(output, ratio, system, f, seed=0, count=None):
    """A run's folder as a finished sweep leaves it (a ratio's, or a count's): only result.json counts."""
    run_dir = run_folder(output, ratio, system, seed, count)
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(asdict(result(system, seed, None, f))))


@pytest.fixture
def train_path(tmp_path, weibo_docs):
    path = tmp_path / "train.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(path)
    return path


def load(path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def test_split_labels_a_covering_sample_and_strips_the_rest(tmp_path, train_path, weibo_docs):
    extra = tmp_path / "extra.spacy"
    DocBin(docs=weibo_docs[2][:5]).to_disk(extra)
    split = make_split(train_path, 0.1, 3, tmp_path / "split", extra_unlabeled=extra)
    labeled, unlabeled = load(split.labeled), load(split.unlabeled)
    assert len(labeled) == 6 and len(unlabeled) == 54 + 5
    assert {e.label_ for d in labeled for e in d.ents} == {e.label_ for d in weibo_docs[1] for e in d.ents}
    assert not any(doc.has_annotation("ENT_IOB") for doc in unlabeled)
    assert [t.text for t in unlabeled[-1]] == [t.text for t in weibo_docs[2][4]]
    # the same ratio and seed draw the same split
    again = make_split(train_path, 0.1, 3, tmp_path / "again")
    assert [d.text for d in load(again.labeled)] == [d.text for d in labeled]


def test_a_split_records_which_docs_it_labeled(tmp_path, train_path, weibo_docs):
    """The count and the sha256 of the sorted labeled indices, in split.json, read back when
    the split is reused; another seed labels other docs, and the hash says so."""
    split = make_split(train_path, 0.1, 3, tmp_path / "split")
    labeled = sample_labeled(weibo_docs[1], ratio=0.1, seed=3).labeled
    assert split.record == {"labeled_docs": 6, "labeled_sha256": labeled_hash(labeled), "unlabeled_docs": 54}
    assert labeled_hash(labeled) == hashlib.sha256(",".join(map(str, sorted(labeled))).encode()).hexdigest()
    assert [d.text for d in load(split.labeled)] == [weibo_docs[1][i].text for i in labeled]
    assert json.loads((tmp_path / "split" / "split.json").read_text()) == split.record
    assert make_split(train_path, 0.1, 3, tmp_path / "split") == split  # reused, with its record
    assert make_split(train_path, 0.1, 4, tmp_path / "other").record["labeled_sha256"] != split.record["labeled_sha256"]


def test_the_unlabeled_pool_without_dev_and_test_texts(tmp_path, weibo_corpus):
    """WeiboNER's train repeats 40 of its 270 test sentences and 42 dev ones (80 train docs in
    all): the no-dev-test pool leaves them out of the unlabeled part, same labeled docs."""
    paths = weibo_corpus
    texts = {name: [doc.text for doc in load(paths[name])] for name in ("train", "dev", "test")}
    assert (len(texts["train"]), len(texts["dev"]), len(texts["test"])) == (1350, 270, 270)
    assert sum(text in set(texts["train"]) for text in texts["test"]) == 40
    held_out = set(texts["dev"]) | set(texts["test"])
    full = make_split(paths["train"], 0.05, 0, split_folder(tmp_path, 0.05, 0))
    pool = make_split(paths["train"], 0.05, 0, split_folder(tmp_path, 0.05, 0, "no-dev-test"), leave_out=[paths["dev"], paths["test"]])
    assert pool.labeled.parent.name == "r0.05-seed0-no-dev-test"
    assert load(pool.labeled)[0].text == load(full.labeled)[0].text and pool.record["labeled_sha256"] == full.record["labeled_sha256"]
    unlabeled = [doc.text for doc in load(pool.unlabeled)]
    assert not held_out & set(unlabeled)
    in_full = sum(doc.text in held_out for doc in load(full.unlabeled))
    assert 0 < in_full <= 80 and len(unlabeled) == 1350 - 68 - in_full
    assert pool.record == {**full.record, "unlabeled_docs": len(unlabeled), "unlabeled_left_out": in_full}


@pytest.mark.parametrize("encoder", ["cnn", "trf"])
def test_training_cost_times_every_system_on_the_same_batches(tmp_path, train_path, weibo_docs, tiny_encoder, encoder):
    split = make_split(train_path, 0.2, 0, tmp_path / "split")
    dev = tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    overrides = {
        "paths.train": str(split.labeled), "paths.unlabeled": str(split.unlabeled), "paths.dev": str(dev),
        "paths.encoder": str(tiny_encoder),
    }
    systems = {
        "supervised": System("supervised", CONFIGS / f"weibo_{encoder}.cfg"),
        "ssgan": System("ssgan", CONFIGS / f"weibo_{encoder}_ssgan.cfg", {"components.lowner_ner.objectives.ssgan.beta": "0"}),
    }
    seconds = measure_training_cost(systems, "ssgan", overrides, tmp_path, batches=2, batch_size=8, log=lambda _: None)
    assert set(seconds) == {"supervised", "ssgan"}
    assert all(value > 0 for value in seconds.values())


@pytest.mark.parametrize(
    "args,message",
    [
        (["--ratios", "0.1,2"], "must be in (0, 1]"),
        (["--ratios", "0.1,x"], "comma-separated list of numbers"),
        (["--set", "b:training.max_steps=5"], "SYSTEM:KEY=VALUE with SYSTEM one of ['a']"),
        (["--control", "c"], "--control c is not one of the systems"),
        (["--self-train", "a=b"], "--self-train must look like NAME=TEACHER"),
        (["--unlabeled-pool", "dev"], "--unlabeled-pool must be one of all, no-dev-test"),
        (["--best-of", "best=a,a"], "--best-of must look like NAME=SYSTEM,SYSTEM"),
        (["--baseline", "best"], "--baseline best is not one of the systems ['a'] or a --best-of row"),
    ],
)
def test_cli_rejects_bad_options(tmp_path, train_path, args, message):
    base = ["ratios", str(tmp_path / "out"), "-s", f"a={CONFIGS / 'weibo_cnn.cfg'}"]
    paths = ["--train", str(train_path), "--dev", str(train_path), "--test", str(train_path)]
    result = CliRunner().invoke(app, base + paths + args)
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_cli_without_matplotlib_stops_before_training(tmp_path, train_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    args = ["ratios", str(tmp_path / "out"), "-s", f"a={CONFIGS / 'weibo_cnn.cfg'}", "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "pip install 'spacy-lowner[benchmark]'" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_reports_the_finished_runs_with_the_training_cost_under_them(tmp_path, train_path):
    output = tmp_path / "out"
    for system, f in (("supervised", 0.3), ("ssgan", 0.35)):
        finish_run(output, 0.1, system, f)
    args = [
        "ratios", str(output), "-s", f"supervised={CONFIGS / 'weibo_cnn.cfg'}", "-s", f"ssgan={CONFIGS / 'weibo_cnn_ssgan.cfg'}",
        "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path), "--ratios", "0.1", "--seeds", "0",
        "--baseline", "supervised", "--report-only", "--cost-batches", "1",
    ]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    text = (output / "results.md").read_text()
    assert "| 0.1 | 0 | 30.00 | 35.00 | +5.00 1/0 |" in text
    assert "| supervised | " in text.split("Training cost per update")[1]
    cost = json.loads((output / "cost.json").read_text())
    assert cost["split"] == "r0.1-seed0" and cost["systems"]["supervised"]["ratio"] == 1.0
    assert cost["systems"]["ssgan"]["seconds_per_update"] > 0


def test_at_ratio_one_the_unlabeled_text_is_the_training_text(tmp_path, train_path, weibo_docs):
    split = make_split(train_path, 1.0, 0, tmp_path / "split")
    assert len(load(split.labeled)) == 60
    unlabeled = load(split.unlabeled)
    assert [d.text for d in unlabeled] == [d.text for d in weibo_docs[1]]
    assert not any(doc.has_annotation("ENT_IOB") for doc in unlabeled)


def test_a_count_split_labels_that_many_sentences_every_type_among_them(tmp_path, train_path, weibo_docs):
    """--counts: the split labels exactly COUNT sentences, drawn as the ratio splits are
    (every type first), in splits/nCOUNT-seedK; its record names the types it labeled."""
    folder = split_folder(tmp_path, None, 3, count=10)
    assert folder == tmp_path / "splits" / "n10-seed3"
    split = make_split(train_path, None, 3, folder, count=10)
    labeled = sample_labeled(weibo_docs[1], count=10, seed=3).labeled
    assert [d.text for d in load(split.labeled)] == [weibo_docs[1][i].text for i in labeled]
    assert len(load(split.unlabeled)) == 50
    types = sorted({e.label_ for d in weibo_docs[1] for e in d.ents})
    assert split.record == {
        "labeled_docs": 10, "labeled_sha256": labeled_hash(labeled), "unlabeled_docs": 50,
        "labeled_types": types, "missing_types": [],
    }
    assert make_split(train_path, None, 3, folder, count=10) == split  # reused, with its record


def test_a_count_too_small_for_every_type_labels_the_rarest_first_without_an_error(tmp_path, train_path, weibo_docs):
    """Covering the 7 types of these 60 sentences takes 4 (seed 0): 2 sentences label the
    three rarest types' cover, and the record says which types are missing. A ratio split
    of the same size still stops with the advice to ask for more."""
    split = make_split(train_path, None, 0, tmp_path / "n2", count=2)
    labeled = load(split.labeled)
    assert len(labeled) == 2
    assert split.record["labeled_types"] == sorted({e.label_ for d in labeled for e in d.ents}) == ["LOC.NAM", "LOC.NOM", "ORG.NOM"]
    assert split.record["missing_types"] == ["GPE.NAM", "ORG.NAM", "PER.NAM", "PER.NOM"]
    with pytest.raises(CoverTooLargeError, match="Ask for at least 4"):
        make_split(train_path, 2 / 60, 0, tmp_path / "r")


def test_cli_sweeps_counts_into_sentence_tables_and_times_the_largest_count(tmp_path, train_path):
    output = tmp_path / "out"
    for count, (supervised, ssgan) in ((10, (0.2, 0.3)), (20, (0.3, 0.35))):
        for system, f in (("supervised", supervised), ("ssgan", ssgan)):
            finish_run(output, None, system, f, count=count)
    args = [
        "ratios", str(output), "-s", f"supervised={CONFIGS / 'weibo_cnn.cfg'}", "-s", f"ssgan={CONFIGS / 'weibo_cnn_ssgan.cfg'}",
        "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path), "--counts", "10,20", "--seeds", "0",
        "--baseline", "supervised", "--report-only", "--cost-batches", "1",
    ]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    text = (output / "results.md").read_text()
    assert "| sentences | seeds | supervised | ssgan | ssgan − supervised |" in text
    assert "| 10 | 0 | 20.00 | 30.00 | +10.00 1/0 |" in text and "| 20 | 0 | 30.00 | 35.00 | +5.00 1/0 |" in text
    assert "| sentences | system | steps | best dev step (median, min-max) |" in text
    assert [(r["system"], r["count"]) for r in json.loads((output / "results.json").read_text())] == [
        ("supervised", 10), ("supervised", 20), ("ssgan", 10), ("ssgan", 20)
    ]
    assert json.loads((output / "cost.json").read_text())["split"] == "n20-seed0"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--counts", "10", "--ratios", "0.1"], "Give --ratios or --counts, not both"),
        (["--counts", "0"], "--counts must be whole numbers from 1 to 60 (the sentences of"),
        (["--counts", "10,61"], "--counts must be whole numbers from 1 to 60"),
        (["--counts", "1.5"], "--counts must be a comma-separated list of numbers"),
    ],
)
def test_cli_rejects_bad_counts(tmp_path, train_path, args, message):
    test_cli_rejects_bad_options(tmp_path, train_path, args, message)
