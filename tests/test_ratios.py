import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from spacy_lowner.benchmark import RunResult
from spacy_lowner.cli import app
from spacy_lowner.ratios import (
    make_split,
    measure_training_cost,
    ratio_table,
    run_ratio_sweep,
    save_training_cost,
    write_reports,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def result(system, seed, ratio, f):
    return RunResult(
        system, seed, f"{system}.cfg", steps=10, epochs=1, train_seconds=1.0, dev_f=f,
        test={"ents_f": f}, ratio=ratio,
    )


def finish_run(output, ratio, system, f):
    """A run's folder as a finished sweep leaves it: only result.json counts."""
    run_dir = output / "runs" / f"r{ratio}" / f"{system}-seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(asdict(result(system, 0, None, f))))


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
    paths = make_split(train_path, 0.1, 3, tmp_path / "split", extra_unlabeled=extra)
    labeled, unlabeled = load(paths["labeled"]), load(paths["unlabeled"])
    assert len(labeled) == 6 and len(unlabeled) == 54 + 5
    assert {e.label_ for d in labeled for e in d.ents} == {e.label_ for d in weibo_docs[1] for e in d.ents}
    assert not any(doc.has_annotation("ENT_IOB") for doc in unlabeled)
    assert [t.text for t in unlabeled[-1]] == [t.text for t in weibo_docs[2][4]]
    # the same ratio and seed draw the same split
    again = make_split(train_path, 0.1, 3, tmp_path / "again")
    assert [d.text for d in load(again["labeled"])] == [d.text for d in labeled]


def test_table_compares_with_the_baseline_on_shared_seeds():
    results = [
        result("base", 0, 0.1, 0.30), result("ssgan", 0, 0.1, 0.34),
        result("base", 1, 0.1, 0.40), result("ssgan", 1, 0.1, 0.42),
        result("base", 0, 0.01, 0.10),  # ssgan not run yet at 0.01
    ]
    lines = ratio_table(results, "base").splitlines()
    assert lines[0] == "| ratio | seeds | base test F1 | ssgan test F1 | ssgan − base |"
    assert lines[2] == "| 0.01 | 0 | 10.00 | - | - |"
    assert lines[3] == "| 0.1 | 0,1 | 35.00 ± 7.07 | 38.00 ± 5.66 | +3.00 |"


def test_sweep_resumes_and_writes_table_and_plot(tmp_path, train_path):
    output = tmp_path / "out"
    for system, f in (("base", 0.3), ("ssgan", 0.35)):
        finish_run(output, 0.1, system, f)
    # The configs do not exist: any attempt to train would fail.
    results = run_ratio_sweep(
        {"base": tmp_path / "no-base.cfg", "ssgan": tmp_path / "no-ssgan.cfg"}, [0.1], [0], output,
        train_path, train_path, train_path, {}, baseline="base", log=lambda _: None,
    )
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1), ("ssgan", 0.1)]
    assert "+5.00" in (output / "results.md").read_text()
    assert [r["ratio"] for r in json.loads((output / "results.json").read_text())] == [0.1, 0.1]
    assert (output / "f1_by_ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output / "splits" / "r0.1-seed0" / "labeled.spacy").exists()


@pytest.mark.parametrize("encoder", ["cnn", "trf"])
def test_training_cost_times_every_system_on_the_same_batches(tmp_path, train_path, weibo_docs, tiny_encoder, encoder):
    split = make_split(train_path, 0.2, 0, tmp_path / "split")
    dev = tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    overrides = {
        "paths.train": str(split["labeled"]), "paths.unlabeled": str(split["unlabeled"]), "paths.dev": str(dev),
        "paths.encoder": str(tiny_encoder),
    }
    configs = {
        "supervised": REPO_ROOT / "configs" / f"weibo_{encoder}.cfg",
        "ssgan": REPO_ROOT / "configs" / f"weibo_{encoder}_ssgan.cfg",
    }
    seconds = measure_training_cost(configs, "ssgan", overrides, batches=2, batch_size=8, log=lambda _: None)
    assert set(seconds) == {"supervised", "ssgan"}
    assert all(value > 0 for value in seconds.values())


@pytest.mark.parametrize("ratios,message", [("0.1,2", "must be in (0, 1]"), ("0.1,x", "comma-separated list of numbers")])
def test_cli_rejects_bad_ratios(tmp_path, train_path, ratios, message):
    config = REPO_ROOT / "configs" / "weibo_cnn.cfg"
    args = ["ratios", str(tmp_path / "out"), "-s", f"a={config}", "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path), "--ratios", ratios]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_cli_without_matplotlib_stops_before_training(tmp_path, train_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    config = REPO_ROOT / "configs" / "weibo_cnn.cfg"
    args = ["ratios", str(tmp_path / "out"), "-s", f"a={config}", "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "pip install 'spacy-lowner[benchmark]'" in result.output
    assert not (tmp_path / "out").exists()


def test_report_only_leaves_out_runs_not_finished(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "base", 0.3)
    results = run_ratio_sweep(
        {"base": tmp_path / "no-base.cfg", "ssgan": tmp_path / "no-ssgan.cfg"}, [0.1, 0.5], [0], output,
        train_path, train_path, train_path, {}, baseline="base", train_missing=False, log=lambda _: None,
    )
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1)]
    assert "| 0.1 | 0 | 30.00 |" in (output / "results.md").read_text()


def test_cost_stays_under_the_table_when_the_reports_are_rewritten(tmp_path):
    save_training_cost(tmp_path, {"supervised": 0.4, "ssgan": 0.6}, "supervised", "r0.1-seed0", 20, 32)
    assert json.loads((tmp_path / "cost.json").read_text())["systems"]["ssgan"]["ratio"] == pytest.approx(1.5)
    for results in ([result("supervised", 0, 0.1, 0.3)], [result("supervised", 0, 0.1, 0.3), result("ssgan", 0, 0.1, 0.4)]):
        write_reports(results, tmp_path, "supervised", "")
        text = (tmp_path / "results.md").read_text()
        assert "(r0.1-seed0, 20 batches of 32 docs)" in text
        assert text.endswith("| supervised | 0.400 | 1.00x |\n| ssgan | 0.600 | 1.50x |\n")
    assert "| 0.1 | 0 | 30.00 | 40.00 | +10.00 |" in text


def test_reports_keep_the_runs_of_other_sweeps_in_the_folder(tmp_path, train_path):
    """Two sweeps into one folder, over other ratios and systems (as when they run in
    parallel): the table written last holds the rows of both."""
    output = tmp_path / "out"
    for ratio, system, f in ((0.1, "base", 0.3), (0.1, "ssgan", 0.35), (0.5, "base", 0.5), (0.5, "other", 0.6)):
        finish_run(output, ratio, system, f)
    (output / "runs" / "r0.5" / "ssgan-seed0").mkdir()  # started, not finished
    results = run_ratio_sweep(
        {"base": tmp_path / "no-base.cfg", "ssgan": tmp_path / "no-ssgan.cfg"}, [0.1], [0], output,
        train_path, train_path, train_path, {}, baseline="base", log=lambda _: None,
    )
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1), ("base", 0.5), ("ssgan", 0.1), ("other", 0.5)]
    lines = (output / "results.md").read_text().splitlines()
    assert lines[0] == "| ratio | seeds | base test F1 | ssgan test F1 | other test F1 | ssgan − base | other − base |"
    assert lines[2:] == ["| 0.1 | 0 | 30.00 | 35.00 | - | +5.00 | - |", "| 0.5 | 0 | 50.00 | - | 60.00 | - | +10.00 |"]


def test_cli_reports_the_finished_runs_with_the_training_cost_under_them(tmp_path, train_path):
    output = tmp_path / "out"
    for system, f in (("supervised", 0.3), ("ssgan", 0.35)):
        finish_run(output, 0.1, system, f)
    configs = REPO_ROOT / "configs"
    args = [
        "ratios", str(output), "-s", f"supervised={configs / 'weibo_cnn.cfg'}", "-s", f"ssgan={configs / 'weibo_cnn_ssgan.cfg'}",
        "--train", str(train_path), "--dev", str(train_path), "--test", str(train_path), "--ratios", "0.1", "--seeds", "0",
        "--baseline", "supervised", "--report-only", "--cost-batches", "1",
    ]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    text = (output / "results.md").read_text()
    assert "| 0.1 | 0 | 30.00 | 35.00 | +5.00 |" in text
    assert "| supervised | " in text.split("Training cost per update")[1]
    cost = json.loads((output / "cost.json").read_text())
    assert cost["split"] == "r0.1-seed0" and cost["systems"]["supervised"]["ratio"] == 1.0
    assert cost["systems"]["ssgan"]["seconds_per_update"] > 0
