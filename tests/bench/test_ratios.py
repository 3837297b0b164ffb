import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from bench.cli import app
from bench.cost import measure_training_cost, save_training_cost
from bench.ratios import make_split, run_ratio_sweep, write_reports
from bench.runs import RunResult, read_result, write_result
from bench.systems import System, parse_self_training

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "configs"


def result(system, seed, ratio, f):
    return RunResult(
        system, seed, f"{system}.cfg", steps=10, epochs=1, train_seconds=1.0, dev_f=f,
        test={"ents_f": f}, ratio=ratio, dev_curve=[(0, 0.0), (5, f), (10, f / 2)],
    )


def finish_run(output, ratio, system, f, seed=0):
    """A run's folder as a finished sweep leaves it: only result.json counts."""
    run_dir = output / "runs" / f"r{ratio}" / f"{system}-seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(asdict(result(system, seed, None, f))))


def missing(tmp_path, *names):
    """Systems whose configs do not exist: any attempt to train them would fail."""
    return {name: System(name, tmp_path / f"no-{name}.cfg") for name in names}


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


def test_sweep_resumes_and_writes_paired_tables_and_plot(tmp_path, train_path):
    output = tmp_path / "out"
    for seed, (base, control, method) in enumerate([(0.30, 0.31, 0.34), (0.40, 0.38, 0.42)]):
        for system, f in (("base", base), ("control", control), ("method", method)):
            finish_run(output, 0.1, system, f, seed)
    results = run_ratio_sweep(
        missing(tmp_path, "base", "control", "method"), [0.1], [0, 1], output,
        train_path, train_path, train_path, {}, baseline="base", control="control", log=lambda _: None,
    )
    assert [(r.system, r.ratio, r.seed) for r in results][:2] == [("base", 0.1, 0), ("base", 0.1, 1)]
    text = (output / "results.md").read_text()
    header = "| ratio | seeds | base | control | method | control − base | method − base | method − control |"
    assert header in text
    # method - base: +4 and +2 -> mean +3, t(1) interval 3 ± 12.706 * 1.414 / 1.414 = ±12.71
    assert "| 0.1 | 0,1 | 35.00 ± 7.07 | 34.50 ± 4.95 | 38.00 ± 5.66 | -0.50 [-19.56, +18.56] 1/1 | +3.00 [-9.71, +15.71] 2/0 | +3.50 [-2.85, +9.85] 2/0 |" in text
    assert "| 0.1 | method | 10 | 5 (5-5) |" in text  # best dev step
    assert [r["ratio"] for r in json.loads((output / "results.json").read_text())] == [0.1] * 6
    assert (output / "f1_by_ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output / "splits" / "r0.1-seed0" / "labeled.spacy").exists()


def test_a_teacher_sure_of_nothing_gives_the_self_training_system_its_result(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "base", 0.30)
    found = missing(tmp_path, "base", "self")  # training either would fail
    parse_self_training(["self=base"], found)
    # the data a resumed sweep finds: the teacher kept no unlabeled doc
    folder = output / "self_training" / "r0.1-seed0" / "self"
    folder.mkdir(parents=True)
    DocBin().to_disk(folder / "labeled.spacy")
    DocBin().to_disk(folder / "pseudo.spacy")
    lines = []
    results = run_ratio_sweep(found, [0.1], [0], output, train_path, train_path, train_path, {}, baseline="base", log=lines.append)
    assert [(r.system, r.test["ents_f"]) for r in results] == [("base", 0.30), ("self", 0.30)]
    assert any("base is sure of no unlabeled doc: its result stands" in line for line in lines)
    assert any(line.endswith("seed 0 self: test F1 30.00") for line in lines)  # new in this sweep, not "done before"
    assert json.loads((output / "runs" / "r0.1" / "self-seed0" / "result.json").read_text())["system"] == "self"


def test_a_fresh_clone_resumes_from_the_recorded_results(tmp_path, train_path):
    """runs/ is not committed: results.json alone says which runs are finished, and a sweep
    over some of its systems keeps the others in the reports it rewrites."""
    output = tmp_path / "out"
    output.mkdir()
    recorded = [result("base", 0, 0.1, 0.30), result("other", 0, 0.1, 0.40)]
    (output / "results.json").write_text(json.dumps([asdict(r) for r in recorded]))
    lines = []
    results = run_ratio_sweep(  # training base would fail
        missing(tmp_path, "base"), [0.1], [0], output, train_path, train_path, train_path, {}, baseline="base", log=lines.append
    )
    assert [(r.system, r.test["ents_f"]) for r in results] == [("base", 0.30), ("other", 0.40)]
    assert "Restored 2 finished runs" in lines[0]
    assert (output / "runs" / "r0.1" / "other-seed0" / "result.json").exists()
    assert "| 0.1 | 0 | 30.00 | 40.00 | +10.00 1/0 |" in (output / "results.md").read_text()


def test_a_restored_teacher_without_its_model_is_trained_again_before_its_student(
    tmp_path, train_path, trained_pipeline, monkeypatch
):
    """A fresh clone's teachers are results.json records without models: the student's
    pseudo-labels need one, so the sweep trains the teacher's run again (and the teacher's
    teacher, down the chain) and its new result replaces the recorded one."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "results.json").write_text(json.dumps([asdict(result("base", 0, 0.1, 0.30)), asdict(result("self", 0, 0.1, 0.33))]))
    found = missing(tmp_path, "base", "self", "self2")
    parse_self_training(["self=base:0.0", "self2=self:0.0"], found)
    trained = []

    def train_and_score(system, seed, config, run_dir, test_path, overrides, gpu_id, log):
        if (run_dir / "result.json").exists():
            return read_result(run_dir / "result.json"), False
        # what a training leaves: model-best (a real pipeline, to tag the unlabeled docs) and result.json
        trained.append((system, Path(overrides["paths.train"]).name))
        shutil.copytree(trained_pipeline, run_dir / "model-best")
        finished = result(system, seed, None, {"base": 0.31, "self": 0.35, "self2": 0.36}[system])
        write_result(finished, run_dir / "result.json")
        return finished, True

    monkeypatch.setattr("bench.ratios.train_and_score", train_and_score)
    lines = []
    results = run_ratio_sweep(found, [0.1], [0], output, train_path, train_path, train_path, {}, baseline="base", log=lines.append)
    # the chain is trained again in order, each student on its teacher's pseudo-labels
    assert trained == [("base", "labeled.spacy"), ("self", "self"), ("self2", "self2")]
    assert [(r.system, r.test["ents_f"]) for r in results] == [("base", 0.31), ("self", 0.35), ("self2", 0.36)]
    assert sum("restored from results.json without its model: training it again" in line for line in lines) == 2
    assert (output / "self_training" / "r0.1-seed0" / "self2" / "pseudo.spacy").exists()
    assert [r["test"]["ents_f"] for r in json.loads((output / "results.json").read_text())] == [0.31, 0.35, 0.36]


@pytest.mark.parametrize("encoder", ["cnn", "trf"])
def test_training_cost_times_every_system_on_the_same_batches(tmp_path, train_path, weibo_docs, tiny_encoder, encoder):
    split = make_split(train_path, 0.2, 0, tmp_path / "split")
    dev = tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    overrides = {
        "paths.train": str(split["labeled"]), "paths.unlabeled": str(split["unlabeled"]), "paths.dev": str(dev),
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


def test_report_only_leaves_out_runs_not_finished(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "base", 0.3)
    results = run_ratio_sweep(
        missing(tmp_path, "base", "ssgan"), [0.1, 0.5], [0], output,
        train_path, train_path, train_path, {}, baseline="base", train_missing=False, log=lambda _: None,
    )
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1)]
    assert "| 0.1 | 0 | 30.00 |" in (output / "results.md").read_text()


def test_cost_stays_under_the_tables_when_the_reports_are_rewritten(tmp_path):
    save_training_cost(tmp_path, {"supervised": 0.4, "ssgan": 0.6}, "supervised", "r0.1-seed0", 20, 32)
    assert json.loads((tmp_path / "cost.json").read_text())["systems"]["ssgan"]["ratio"] == pytest.approx(1.5)
    for results in ([result("supervised", 0, 0.1, 0.3)], [result("supervised", 0, 0.1, 0.3), result("ssgan", 0, 0.1, 0.4)]):
        write_reports(results, tmp_path, "supervised", None, "")
        text = (tmp_path / "results.md").read_text()
        assert "(r0.1-seed0, 20 batches of 32 docs)" in text
        assert text.endswith("| supervised | 0.400 | 1.00x |\n| ssgan | 0.600 | 1.50x |\n")
    assert "| 0.1 | 0 | 30.00 | 40.00 | +10.00 1/0 |" in text


def test_reports_keep_the_runs_of_other_sweeps_in_the_folder(tmp_path, train_path):
    """Two sweeps into one folder, over other ratios and systems (as when they run in
    parallel): the table written last holds the rows of both."""
    output = tmp_path / "out"
    for ratio, system, f in ((0.1, "base", 0.3), (0.1, "ssgan", 0.35), (0.5, "base", 0.5), (0.5, "other", 0.6)):
        finish_run(output, ratio, system, f)
    (output / "runs" / "r0.5" / "ssgan-seed0").mkdir()  # started, not finished
    results = run_ratio_sweep(
        missing(tmp_path, "base", "ssgan"), [0.1], [0], output,
        train_path, train_path, train_path, {}, baseline="base", log=lambda _: None,
    )
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1), ("base", 0.5), ("ssgan", 0.1), ("other", 0.5)]
    lines = (output / "results.md").read_text().splitlines()
    assert "| ratio | seeds | base | ssgan | other | ssgan − base | other − base |" in lines
    assert "| 0.1 | 0 | 30.00 | 35.00 | - | +5.00 1/0 | - |" in lines
    assert "| 0.5 | 0 | 50.00 | - | 60.00 | - | +10.00 1/0 |" in lines


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
    paths = make_split(train_path, 1.0, 0, tmp_path / "split")
    assert len(load(paths["labeled"])) == 60
    unlabeled = load(paths["unlabeled"])
    assert [d.text for d in unlabeled] == [d.text for d in weibo_docs[1]]
    assert not any(doc.has_annotation("ENT_IOB") for doc in unlabeled)
