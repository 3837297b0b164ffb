import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from spacy.tokens import DocBin
from thinc.api import Config
from typer.testing import CliRunner

from bench.cli import app
from bench.reports import DEDUP_TITLE

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "configs"
REPORTS = REPO_ROOT / "reports"


def copy_report(name, folder):
    """A report folder as a fresh clone has it: results.json and results.md, no runs."""
    folder.mkdir(parents=True)
    for file in ("results.json", "results.md"):
        shutil.copy(REPORTS / name / file, folder / file)
    return folder


def test_bench_does_not_import_the_packages_cli():
    """The harness has its own one-line errors: the package's CLI internals may change."""
    check = "import sys, bench.cli; assert 'spacy_lowner.cli' not in sys.modules, 'imported'"
    run = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_an_error_is_one_line_whatever_its_length(tmp_path):
    """wasabi would wrap it at 80 columns, splitting the path it names."""
    config = tmp_path / ("a-long-folder-name-" * 5) / "missing.cfg"
    args = ["cost", str(tmp_path / "out"), "-s", f"a={config}", "--train", __file__, "--dev", __file__, "--baseline", "a"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert f"Config for system a not found: {config}\n" in result.output


def test_report_only_rewrites_a_committed_benchmark_report_as_it_was(tmp_path):
    """The runs of a fresh clone are restored from results.json; nothing is trained or timed,
    and both files come out byte for byte."""
    output = copy_report("word_boundaries_cnn", tmp_path / "word_boundaries_cnn")
    corpus = ["--train", __file__, "--dev", __file__, "--test", __file__]
    args = ["benchmark", str(output), "-s", f"cnn={CONFIGS / 'weibo_cnn.cfg'}", "-s", f"cnn_wb={CONFIGS / 'weibo_cnn_wb.cfg'}",
            *corpus, "--seeds", "0,1,2", "--baseline", "cnn", "--report-only"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for file in ("results.json", "results.md"):
        assert (output / file).read_bytes() == (REPORTS / "word_boundaries_cnn" / file).read_bytes()
    assert not list(output.glob("runs/*/model-best"))


def test_report_only_rewrites_a_committed_ratio_report_as_it_was(tmp_path, weibo_corpus):
    """As project.yml's ratios-weibo-trf-6l names them: composed configs, which are not written
    again for runs already finished."""
    output = copy_report("ratios_weibo_trf_6l", tmp_path / "ratios_weibo_trf_6l")
    corpus = ["--train", str(weibo_corpus["train"]), "--dev", str(weibo_corpus["dev"]), "--test", str(weibo_corpus["test"])]
    composed = f"{CONFIGS / 'weibo_trf.cfg'}+{CONFIGS / 'parts' / 'word_batches.cfg'}"
    args = ["ratios", str(output), "-s", f"supervised={composed}", "-s", f"self_train={composed}", "--self-train", "self_train=supervised:0.9:O",
            *corpus, "--baseline", "supervised", "--report-only", "--cost-batches", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for file in ("results.json", "results.md"):
        assert (output / file).read_bytes() == (REPORTS / "ratios_weibo_trf_6l" / file).read_bytes()
    assert not (output / "configs").exists() and not (output / "self_training").exists()


def corpus_with_repeats(folder, weibo_docs):
    """train, dev and test DocBins: the 60 train sentences, the dev ones, and a test set of
    the dev sentences plus 10 of train's (repeats that --dedup-test leaves out)."""
    _, train_docs, dev_docs = weibo_docs
    train, dev, test = folder / "train.spacy", folder / "dev.spacy", folder / "test.spacy"
    DocBin(docs=train_docs).to_disk(train)
    DocBin(docs=dev_docs).to_disk(dev)
    DocBin(docs=dev_docs + train_docs[:10]).to_disk(test)
    return train, dev, test


def test_restarts_a_best_of_row_and_the_records_of_real_runs(tmp_path, weibo_docs, monkeypatch):
    """Two tiny `spacy train` runs on one split: supervised with the sweep's seed and a restart
    with its own system.seed (the later override wins), read through a best-of row against
    which the others are compared; each run records its split and both commands, and is
    scored on test without the sentences train holds too."""
    train, dev, test = corpus_with_repeats(tmp_path, weibo_docs)
    output = tmp_path / "out"
    args = [
        "ratios", str(output), "-s", f"supervised={CONFIGS / 'weibo_cnn.cfg'}", "-s", f"restart1={CONFIGS / 'weibo_cnn.cfg'}",
        "--set", "restart1:system.seed=101", "--best-of", "best2=supervised,restart1", "--baseline", "best2",
        "--train", str(train), "--dev", str(dev), "--test", str(test), "--ratios", "0.5", "--seeds", "0", "--dedup-test",
        "--cost-batches", "0", "--threads", "1", "-o", "training.max_steps=4", "-o", "training.eval_frequency=2",
        "-o", "training.patience=4",
    ]
    monkeypatch.setattr(sys, "argv", ["/somewhere/bench/__main__.py", *args])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = output / "runs" / "r0.5"
    seeds = {name: Config().from_disk(runs / f"{name}-seed0" / "model-best" / "config.cfg")["system"]["seed"] for name in ("supervised", "restart1")}
    assert seeds == {"supervised": 0, "restart1": 101}
    record = json.loads((runs / "restart1-seed0" / "result.json").read_text())
    command = shlex.split(record["train_command"])
    assert command[:5] == ["python", "-m", "spacy", "train", str(CONFIGS / "weibo_cnn.cfg")]
    assert command[command.index("--system.seed") + 1] == "0" and command[-2:] == ["--system.seed", "101"]
    assert record["bench_command"] == shlex.join(["python", "-m", "bench", *args])
    assert record["split"]["labeled_docs"] == 30 and len(record["split"]["labeled_sha256"]) == 64
    assert set(record["test"]) >= {"ents_f", "ents_f_dedup", "ents_p_dedup", "ents_r_dedup"}
    assert json.loads((output / "results.json").read_text())[1] == {**record, "ratio": 0.5}  # the folder says which
    text = (output / "results.md").read_text()
    assert "| ratio | seeds | supervised | restart1 | best2 | supervised − best2 | restart1 − best2 |" in text
    assert "| 0.5 | best2 | 8 (2 trainings) |" in text and DEDUP_TITLE in text


def test_retrain_unscored_trains_again_the_runs_recorded_before_dedup_test(tmp_path, weibo_docs):
    """A run that results.json records without the _dedup scores (a fresh clone: its model is
    not kept) stays as recorded, unless --retrain-unscored trains it again."""
    train, dev, test = corpus_with_repeats(tmp_path, weibo_docs)
    output = tmp_path / "out"
    output.mkdir()
    recorded = {"system": "a", "seed": 0, "config": "a.cfg", "steps": 4, "epochs": 1, "train_seconds": 1.0, "dev_f": 0.5,
                "test": {"ents_f": 0.123}, "ratio": 0.5}
    (output / "results.json").write_text(json.dumps([recorded]))
    args = [
        "ratios", str(output), "-s", f"a={CONFIGS / 'weibo_cnn.cfg'}", "--train", str(train), "--dev", str(dev),
        "--test", str(test), "--ratios", "0.5", "--seeds", "0", "--dedup-test", "--cost-batches", "0", "--threads", "1",
        "-o", "training.max_steps=4", "-o", "training.eval_frequency=2", "-o", "training.patience=4",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((output / "results.json").read_text())[0]["test"] == {"ents_f": 0.123}  # done before: kept
    result = CliRunner().invoke(app, [*args[:args.index("--dedup-test")], "--retrain-unscored", *args[args.index("--dedup-test") + 1:]])
    assert result.exit_code == 1 and "give --dedup-test too" in result.output
    result = CliRunner().invoke(app, [*args, "--retrain-unscored", "--report-only"])
    assert result.exit_code == 1 and "not --report-only" in result.output
    result = CliRunner().invoke(app, [*args, "--retrain-unscored"])
    assert result.exit_code == 0, result.output
    assert "its model gone: training it again" in result.output
    assert "recorded test F1 12.30, trained again" in result.output
    record = json.loads((output / "results.json").read_text())[0]
    assert record["steps"] == 4 and "ents_f_dedup" in record["test"] and "train_command" in record
    assert (output / "runs" / "r0.5" / "a-seed0" / "model-best").is_dir()


def test_a_folder_of_runs_on_another_pool_is_refused_in_one_line(tmp_path, weibo_docs):
    """Runs record their split: a sweep over the pool without dev and test texts into a folder
    whose runs used the whole pool stops before mixing them."""
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(train)
    DocBin(docs=weibo_docs[1][:5]).to_disk(dev)  # dev texts that train holds
    corpus = ["--train", str(train), "--dev", str(dev), "--test", str(dev)]
    base = ["ratios", str(tmp_path / "out"), "-s", f"a={CONFIGS / 'weibo_cnn.cfg'}", *corpus, "--ratios", "0.1", "--seeds", "0", "--report-only"]
    run_dir = tmp_path / "out" / "runs" / "r0.1" / "a-seed0"
    run_dir.mkdir(parents=True)
    record = {"system": "a", "seed": 0, "config": "a.cfg", "steps": 1, "epochs": 1, "train_seconds": 1.0, "dev_f": 0.5, "test": {"ents_f": 0.4}}
    (run_dir / "result.json").write_text(json.dumps(record))  # an older run: no record of its split
    split = CliRunner().invoke(app, base)  # draws the whole pool's split
    assert split.exit_code == 0, split.output
    record["split"] = json.loads((tmp_path / "out" / "splits" / "r0.1-seed0" / "split.json").read_text())
    (run_dir / "result.json").write_text(json.dumps(record))
    assert CliRunner().invoke(app, base).exit_code == 0
    result = CliRunner().invoke(app, [*base, "--unlabeled-pool", "no-dev-test"])
    assert result.exit_code == 1
    assert "a-seed0/result.json was trained on another split" in result.output and "sweep into another folder" in result.output
    assert (tmp_path / "out" / "splits" / "r0.1-seed0-no-dev-test" / "split.json").exists()
