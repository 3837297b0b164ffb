import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from bench.ratios import labeled_hash
from bench.reports import BenchmarkReport, RatioReport
from bench.runs import RunResult, evaluate_model, read_result, write_result
from bench.sweep import Cell, SplitMismatchError, Sweep, SweepData, finished_runs, plan, run_folder
from bench.systems import System, parse_self_training
from bench.tables import benchmark_table
from spacy_lowner.training.sampling import sample_labeled


def result(system, seed, f, words_per_second=None, ratio=None):
    return RunResult(
        system, seed, f"{system}.cfg", steps=100, epochs=2, train_seconds=10.0, dev_f=f,
        test={"ents_f": f, "ents_p": f, "ents_r": f}, words_per_second=words_per_second, ratio=ratio,
        dev_curve=[(0, 0.0), (50, f), (100, f / 2)],
    )


def finish_run(output, ratio, system, f, seed=0):
    """A ratio run's folder as a finished sweep leaves it: only result.json counts."""
    run_dir = output / "runs" / f"r{ratio}" / f"{system}-seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(asdict(result(system, seed, f))))


def missing(tmp_path, *names):
    """Systems whose configs do not exist: any attempt to train them would fail."""
    return {name: System(name, tmp_path / f"no-{name}.cfg") for name in names}


def sweep(systems, output, data_path, log=lambda _: None, **data):
    return Sweep(systems, output, SweepData(data_path, data_path, data_path, **data), {}, log=log)


def benchmark(systems, seeds, output, data_path, baseline=None, log=lambda _: None):
    """bench benchmark's sweep: the runs, then the speed of their models, then the reports."""
    found = sweep(systems, output, data_path, log)
    cells = plan(list(systems), seeds)
    found.run(cells, BenchmarkReport(baseline))
    found.measure_speed(cells)
    return found.run(cells, BenchmarkReport(baseline), train_missing=False)


def ratios(systems, ratios, seeds, output, data_path, baseline=None, control=None, log=lambda _: None, train_missing=True):
    cells = plan(list(systems), seeds, ratios)
    return sweep(systems, output, data_path, log).run(cells, RatioReport(baseline, control), train_missing)


@pytest.fixture
def train_path(tmp_path, weibo_docs):
    path = tmp_path / "train.spacy"
    DocBin(docs=weibo_docs[1]).to_disk(path)
    return path


@pytest.fixture
def tagger(weibo_docs):
    nlp = spacy.blank("zh", vocab=weibo_docs[0])
    nlp.add_pipe("lowner_ner")
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in weibo_docs[1][:10]])
    return nlp


def test_the_plan_is_ratio_major_then_seed_then_system():
    cells = plan(["a", "b"], [0, 1], [0.1, 0.5])
    assert [(c.ratio, c.seed, c.system) for c in cells[:4]] == [(0.1, 0, "a"), (0.1, 0, "b"), (0.1, 1, "a"), (0.1, 1, "b")]
    assert len(cells) == 8 and cells[-1] == Cell(0.5, 1, "b")
    assert [c.label for c in plan(["a"], [2])] == ["a seed 2"]
    assert cells[0].label == "ratio 0.1 seed 0 a"


def test_finished_runs_reads_both_layouts(tmp_path):
    """runs/NAME-seedK (full data) and runs/rRATIO/NAME-seedK (ratio sweeps, the ratio read
    from the folder): one scan, the given systems first."""
    write_result(result("full", 0, 0.5), tmp_path / "runs" / "full-seed0" / "result.json")
    finish_run(tmp_path, 0.05, "b", 0.3)
    finish_run(tmp_path, 0.05, "a", 0.4, seed=1)
    (tmp_path / "runs" / "r0.05" / "c-seed0").mkdir()  # started, not finished
    found = finished_runs(tmp_path, ["b"])
    assert [(r.system, r.ratio, r.seed) for r in found] == [("b", 0.05, 0), ("a", 0.05, 1), ("full", None, 0)]


def test_table_has_one_row_per_system_paired_differences_and_speed_ratios():
    table = benchmark_table(
        [result("ours", 0, 0.5, 900), result("ours", 1, 0.6, 1100), result("base", 0, 0.4, 500), result("base", 1, 0.45, 500)],
        baseline="base",
    )
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert set(rows) == {"ours", "base"}
    assert "55.00 ± 7.07" in rows["ours"] and "0,1" in rows["ours"]
    assert "+12.50 [" in rows["ours"] and "2/0" in rows["ours"]
    assert rows["ours"].rstrip(" |").endswith("2.00x")
    assert rows["base"].rstrip(" |").endswith("1.00x")
    assert "5.0" in rows["ours"]  # seconds per epoch: 10 s / 2 epochs


def test_table_shows_a_dash_where_no_speed_was_measured():
    table = benchmark_table([result("ours", 0, 0.5), result("base", 0, 0.4, 500)], baseline="base")
    rows = {line.split("|")[1].strip(): line.split("|") for line in table.splitlines()[2:]}
    assert rows["ours"][12].strip() == "-" and rows["ours"][14].strip() == "-"
    assert rows["base"][12].strip() == "500" and rows["base"][14].strip() == "1.00x"


def test_sweep_skips_finished_runs_and_measures_speed(tmp_path, weibo_docs, tagger):
    test_path = tmp_path / "test.spacy"
    DocBin(docs=weibo_docs[1][:10]).to_disk(test_path)
    for system in ("a", "b"):
        run_dir = tmp_path / "out" / "runs" / f"{system}-seed0"
        run_dir.mkdir(parents=True)
        tagger.to_disk(run_dir / "model-best")
        (run_dir / "result.json").write_text(json.dumps(asdict(result(system, 0, 0.5))))
    results = benchmark(missing(tmp_path, "a", "b"), [0], tmp_path / "out", test_path, baseline="b")
    assert [r.system for r in results] == ["a", "b"]
    assert all(r.words_per_second > 0 for r in results)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["words_per_second"] for r in saved] == pytest.approx([r.words_per_second for r in results])
    assert "| a |" in (tmp_path / "out" / "results.md").read_text()


def test_a_fresh_clone_keeps_the_recorded_runs_and_their_speed(tmp_path, weibo_docs, tagger):
    """results.json records a and c (runs/ is not committed); b's run is here with its model.
    A sweep over a and b trains nothing, times b, and keeps a's recorded speed and c's row."""
    test_path = tmp_path / "test.spacy"
    DocBin(docs=weibo_docs[1][:10]).to_disk(test_path)
    output = tmp_path / "out"
    (output / "runs" / "b-seed0").mkdir(parents=True)
    (output / "results.json").write_text(json.dumps([asdict(result("a", 0, 0.5, 700)), asdict(result("c", 0, 0.6, 800))]))
    tagger.to_disk(output / "runs" / "b-seed0" / "model-best")
    (output / "runs" / "b-seed0" / "result.json").write_text(json.dumps(asdict(result("b", 0, 0.4))))
    lines = []
    results = benchmark(missing(tmp_path, "a", "b"), [0], output, test_path, baseline="b", log=lines.append)
    assert [(r.system, r.words_per_second) for r in results][0] == ("a", 700)
    assert results[1].words_per_second > 0
    assert read_result(output / "runs" / "b-seed0" / "result.json").words_per_second == results[1].words_per_second
    assert [r["system"] for r in json.loads((output / "results.json").read_text())] == ["a", "b", "c"]
    assert any("1 runs have no model" in line for line in lines)


def test_a_sweep_over_one_seed_reports_every_seed_in_order(tmp_path, weibo_docs):
    """Two sweeps over seeds 0 and 1 ran side by side: the report each rewrites lists the
    systems as asked and their seeds in order, whichever seed this one trained."""
    test_path = tmp_path / "test.spacy"
    DocBin(docs=weibo_docs[1][:5]).to_disk(test_path)
    output = tmp_path / "out"
    output.mkdir()
    recorded = [result(system, seed, f) for seed, system, f in [(0, "b", 0.5), (1, "b", 0.6), (0, "a", 0.4), (1, "a", 0.3)]]
    (output / "results.json").write_text(json.dumps([asdict(r) for r in recorded]))
    benchmark(missing(tmp_path, "a", "b"), [1], output, test_path, baseline="a")
    assert [(r["system"], r["seed"]) for r in json.loads((output / "results.json").read_text())] == [
        ("a", 0), ("a", 1), ("b", 0), ("b", 1)
    ]
    assert "| a | 0,1 | 35.00 ± 7.07 |" in (output / "results.md").read_text()


def test_a_sweep_stopped_midway_keeps_the_runs_it_finished_in_results_json(tmp_path, monkeypatch):
    """runs/ is not committed: a run finished before the sweep was stopped must already be in
    results.json, beside the runs that were recorded there before."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "results.json").write_text(json.dumps([asdict(result("c", 0, 0.6))]))

    def train_and_score(system, seed, config, run_dir, test_path, overrides, gpu_id, log, **record):
        if system == "b":
            raise KeyboardInterrupt  # the user stops the sweep during b's run
        finished = result(system, seed, 0.5)
        write_result(finished, run_dir / "result.json")
        return finished, True

    monkeypatch.setattr("bench.sweep.train_and_score", train_and_score)
    with pytest.raises(KeyboardInterrupt):
        sweep(missing(tmp_path, "a", "b"), output, tmp_path).run(plan(["a", "b"], [0]), BenchmarkReport("a"))
    assert [r["system"] for r in json.loads((output / "results.json").read_text())] == ["a", "c"]
    assert "| a | 0 | 50.00 |" in (output / "results.md").read_text()


def test_ratio_sweep_resumes_and_writes_paired_tables_and_plot(tmp_path, train_path):
    output = tmp_path / "out"
    for seed, (base, control, method) in enumerate([(0.30, 0.31, 0.34), (0.40, 0.38, 0.42)]):
        for system, f in (("base", base), ("control", control), ("method", method)):
            finish_run(output, 0.1, system, f, seed)
    results = ratios(missing(tmp_path, "base", "control", "method"), [0.1], [0, 1], output, train_path, "base", "control")
    assert [(r.system, r.ratio, r.seed) for r in results][:2] == [("base", 0.1, 0), ("base", 0.1, 1)]
    text = (output / "results.md").read_text()
    header = "| ratio | seeds | base | control | method | control − base | method − base | method − control |"
    assert header in text
    # method - base: +4 and +2 -> mean +3, t(1) interval 3 ± 12.706 * 1.414 / 1.414 = ±12.71
    assert "| 0.1 | 0,1 | 35.00 ± 7.07 | 34.50 ± 4.95 | 38.00 ± 5.66 | -0.50 [-19.56, +18.56] 1/1 | +3.00 [-9.71, +15.71] 2/0 | +3.50 [-2.85, +9.85] 2/0 |" in text
    assert "| 0.1 | method | 100 | 50 (50-50) |" in text  # best dev step
    assert [r["ratio"] for r in json.loads((output / "results.json").read_text())] == [0.1] * 6
    assert (output / "f1_by_ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output / "splits" / "r0.1-seed0" / "labeled.spacy").exists()


def test_a_teacher_sure_of_nothing_gives_the_self_training_system_its_result(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "base", 0.30)
    (output / "runs" / "r0.1" / "base-seed0" / "model-best").mkdir()
    found = missing(tmp_path, "base", "self")  # training either would fail
    parse_self_training(["self=base"], found)
    # the data a resumed sweep finds: the teacher kept no unlabeled doc
    folder = output / "self_training" / "r0.1-seed0" / "self"
    folder.mkdir(parents=True)
    DocBin().to_disk(folder / "labeled.spacy")
    DocBin().to_disk(folder / "pseudo.spacy")
    lines = []
    results = ratios(found, [0.1], [0], output, train_path, "base", log=lines.append)
    assert [(r.system, r.test["ents_f"]) for r in results] == [("base", 0.30), ("self", 0.30)]
    assert any("base is sure of no unlabeled doc: its result stands" in line for line in lines)
    assert any(line.endswith("seed 0 self: test F1 30.00") for line in lines)  # new in this sweep, not "done before"
    assert json.loads((output / "runs" / "r0.1" / "self-seed0" / "result.json").read_text())["system"] == "self"
    # its pipeline is the teacher's: a student of `self` reads the teacher's model-best
    model = output / "runs" / "r0.1" / "self-seed0" / "model-best"
    assert model.resolve() == (output / "runs" / "r0.1" / "base-seed0" / "model-best").resolve()


def test_a_fresh_clone_resumes_from_the_recorded_results(tmp_path, train_path):
    """runs/ is not committed: results.json alone says which runs are finished, and a sweep
    over some of its systems keeps the others in the reports it rewrites."""
    output = tmp_path / "out"
    output.mkdir()
    recorded = [result("base", 0, 0.30, ratio=0.1), result("other", 0, 0.40, ratio=0.1)]
    (output / "results.json").write_text(json.dumps([asdict(r) for r in recorded]))
    lines = []
    results = ratios(missing(tmp_path, "base"), [0.1], [0], output, train_path, "base", log=lines.append)  # training base would fail
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
    recorded = [asdict(result("base", 0, 0.30, ratio=0.1)), asdict(result("self", 0, 0.33, ratio=0.1))]
    (output / "results.json").write_text(json.dumps(recorded))
    found = missing(tmp_path, "base", "self", "self2")
    parse_self_training(["self=base:0.0", "self2=self:0.0"], found)
    trained = []

    def train_and_score(system, seed, config, run_dir, test_path, overrides, gpu_id, log, **record):
        if (run_dir / "result.json").exists():
            return read_result(run_dir / "result.json"), False
        # what a training leaves: model-best (a real pipeline, to tag the unlabeled docs) and result.json
        trained.append((system, Path(overrides["paths.train"]).name))
        shutil.copytree(trained_pipeline, run_dir / "model-best")
        finished = result(system, seed, {"base": 0.31, "self": 0.35, "self2": 0.36}[system])
        write_result(finished, run_dir / "result.json")
        return finished, True

    monkeypatch.setattr("bench.sweep.train_and_score", train_and_score)
    lines = []
    results = ratios(found, [0.1], [0], output, train_path, "base", log=lines.append)
    # the chain is trained again in order, each student on its teacher's pseudo-labels
    assert trained == [("base", "labeled.spacy"), ("self", "self"), ("self2", "self2")]
    assert [(r.system, r.test["ents_f"]) for r in results] == [("base", 0.31), ("self", 0.35), ("self2", 0.36)]
    assert sum("restored from results.json without its model: training it again" in line for line in lines) == 2
    assert (output / "self_training" / "r0.1-seed0" / "self2" / "pseudo.spacy").exists()
    assert [r["test"]["ents_f"] for r in json.loads((output / "results.json").read_text())] == [0.31, 0.35, 0.36]


def test_report_only_leaves_out_runs_not_finished(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "base", 0.3)
    results = ratios(missing(tmp_path, "base", "ssgan"), [0.1, 0.5], [0], output, train_path, "base", train_missing=False)
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1)]
    assert "| 0.1 | 0 | 30.00 |" in (output / "results.md").read_text()


def test_reports_keep_the_runs_of_other_sweeps_in_the_folder(tmp_path, train_path):
    """Two sweeps into one folder, over other ratios and systems (as when they run in
    parallel): the table written last holds the rows of both."""
    output = tmp_path / "out"
    for ratio, system, f in ((0.1, "base", 0.3), (0.1, "ssgan", 0.35), (0.5, "base", 0.5), (0.5, "other", 0.6)):
        finish_run(output, ratio, system, f)
    (output / "runs" / "r0.5" / "ssgan-seed0").mkdir()  # started, not finished
    results = ratios(missing(tmp_path, "base", "ssgan"), [0.1], [0], output, train_path, "base")
    assert [(r.system, r.ratio) for r in results] == [("base", 0.1), ("base", 0.5), ("ssgan", 0.1), ("other", 0.5)]
    lines = (output / "results.md").read_text().splitlines()
    assert "| ratio | seeds | base | ssgan | other | ssgan − base | other − base |" in lines
    assert "| 0.1 | 0 | 30.00 | 35.00 | - | +5.00 1/0 | - |" in lines
    assert "| 0.5 | 0 | 50.00 | - | 60.00 | - | +10.00 1/0 |" in lines


def fake_train_run(config, output, seed, overrides, gpu_id, log):
    """A training that writes a model-best with dev F1 0.5, in no time."""
    (output / "model-best").mkdir(parents=True)
    (output / "model-best" / "meta.json").write_text(json.dumps({"performance": {"ents_f": 0.5}}))
    return {"steps": 10, "epochs": 1, "train_seconds": 1.0, "dev_curve": [(10, 0.5)], "train_command": "python -m spacy train x"}


def test_each_new_run_records_its_split_and_the_commands(tmp_path, train_path, monkeypatch):
    """The split's labeled docs (count and the hash of their sorted indices), the `spacy
    train` command and the bench command are in result.json and results.json."""

    monkeypatch.setattr("bench.runs.train_run", fake_train_run)
    monkeypatch.setattr("bench.runs.evaluate_model", lambda model, test, texts: {"ents_f": 0.4})
    output = tmp_path / "out"
    found = sweep(missing(tmp_path, "a"), output, train_path)
    found.bench_command = "python -m bench ratios out -s a=a.cfg"
    found.run(plan(["a"], [3], [0.1]), RatioReport())
    docs = list(DocBin().from_disk(train_path).get_docs(spacy.blank("zh").vocab))
    labeled = sample_labeled(docs, ratio=0.1, seed=3).labeled
    (record,) = json.loads((output / "results.json").read_text())
    assert record["split"] == {"labeled_docs": 6, "labeled_sha256": labeled_hash(labeled), "unlabeled_docs": 54}
    assert record["train_command"] == "python -m spacy train x"
    assert record["bench_command"] == "python -m bench ratios out -s a=a.cfg"
    assert json.loads((output / "runs" / "r0.1" / "a-seed3" / "result.json").read_text())["split"] == record["split"]


def test_a_run_finished_on_another_split_stops_the_sweep(tmp_path, train_path):
    """A folder's runs must share their splits: a run recorded with another split (here: the
    unlabeled pool without the dev and test texts) is not mixed into this sweep's table."""
    output = tmp_path / "out"
    finish_run(output, 0.1, "a", 0.3, seed=3)
    other = read_result(output / "runs" / "r0.1" / "a-seed3" / "result.json")
    other.split = {"labeled_docs": 6, "labeled_sha256": "0" * 64, "unlabeled_docs": 50, "unlabeled_left_out": 4}
    write_result(other, output / "runs" / "r0.1" / "a-seed3" / "result.json")
    with pytest.raises(SplitMismatchError, match="a-seed3/result.json was trained on another split"):
        ratios(missing(tmp_path, "a"), [0.1], [3], output, train_path)


def test_dedup_scores_are_added_to_finished_runs_whose_model_is_here(tmp_path, weibo_docs, tagger):
    """A sweep asked for the _dedup scores scores the finished runs that lack them, once."""
    train, test = tmp_path / "train.spacy", tmp_path / "test.spacy"
    DocBin(docs=weibo_docs[1][:20]).to_disk(train)
    DocBin(docs=weibo_docs[1][10:30]).to_disk(test)  # half of test is in train
    output = tmp_path / "out"
    run_dir = output / "runs" / "a-seed0"
    run_dir.mkdir(parents=True)
    tagger.to_disk(run_dir / "model-best")
    write_result(result("a", 0, 0.5), run_dir / "result.json")
    data = SweepData(train, train, test, dedup_test=True)
    lines = []
    Sweep(missing(tmp_path, "a"), output, data, {}, log=lines.append).run(plan(["a"], [0]), BenchmarkReport())
    scores = read_result(run_dir / "result.json").test
    expected = evaluate_model(run_dir / "model-best", test, data.train_texts)
    assert scores["ents_f_dedup"] == expected["ents_f_dedup"] and scores["ents_f"] == 0.5  # the recorded scores stay
    assert "ents_f_dedup" in (output / "results.md").read_text()
    assert lines[-1].endswith("a seed 0: test F1 50.00")  # rescored: new in this sweep
    Sweep(missing(tmp_path, "a"), output, data, {}, log=lines.append).run(plan(["a"], [0]), BenchmarkReport())
    assert lines[-1].endswith("(done before)")


def test_results_of_earlier_sweeps_still_load(tmp_path):
    old = asdict(result("a", 0, 0.5))
    del old["dev_curve"]  # written before the dev curve was recorded
    (tmp_path / "result.json").write_text(json.dumps(old))
    assert read_result(tmp_path / "result.json").dev_curve == []


def test_a_count_plan_is_count_major_in_folders_of_its_own(tmp_path):
    cells = plan(["a", "b"], [0, 1], counts=[10, 100])
    assert [(c.count, c.seed, c.system) for c in cells[:3]] == [(10, 0, "a"), (10, 0, "b"), (10, 1, "a")]
    assert len(cells) == 8 and cells[-1] == Cell(None, 1, "b", 100)
    assert cells[0].label == "10 sentences seed 0 a"
    assert run_folder(tmp_path, None, "a", 3, count=10) == tmp_path / "runs" / "n10" / "a-seed3"
    write_result(result("a", 3, 0.5), run_folder(tmp_path, None, "a", 3, count=10) / "result.json")
    write_result(result("a", 3, 0.6), run_folder(tmp_path, None, "a", 3, count=100) / "result.json")
    assert [(r.count, r.ratio, r.size) for r in finished_runs(tmp_path, ["a"])] == [(10, None, 10), (100, None, 100)]


def test_a_count_sweep_records_each_runs_split_with_its_types_and_restores_on_a_fresh_clone(tmp_path, train_path, monkeypatch):
    def train_run(config, output, seed, overrides, gpu_id, log):
        assert overrides["paths.train"] == str(tmp_path / "out" / "splits" / "n10-seed3" / "labeled.spacy")
        return fake_train_run(config, output, seed, overrides, gpu_id, log)

    monkeypatch.setattr("bench.runs.train_run", train_run)
    monkeypatch.setattr("bench.runs.evaluate_model", lambda model, test, texts: {"ents_f": 0.4})
    output = tmp_path / "out"
    sweep(missing(tmp_path, "a", "b"), output, train_path).run(plan(["a", "b"], [3], counts=[10]), RatioReport("a"))
    docs = list(DocBin().from_disk(train_path).get_docs(spacy.blank("zh").vocab))
    labeled = sample_labeled(docs, count=10, seed=3).labeled
    records = json.loads((output / "results.json").read_text())
    assert [(r["system"], r["count"], "ratio" in r) for r in records] == [("a", 10, True), ("b", 10, True)]
    assert records[0]["ratio"] is None
    assert records[0]["split"]["labeled_sha256"] == labeled_hash(labeled) == records[1]["split"]["labeled_sha256"]
    assert records[0]["split"]["missing_types"] == [] and len(records[0]["split"]["labeled_types"]) == 7
    assert "| 10 | 3 | 40.00 | 40.00 | +0.00 0/0 |" in (output / "results.md").read_text()
    # a fresh clone: results.json alone, each run restored into runs/n10
    shutil.rmtree(output / "runs")
    monkeypatch.setattr("bench.runs.train_run", None)  # nothing is trained again
    results = sweep(missing(tmp_path, "a", "b"), output, train_path).run(plan(["a", "b"], [3], counts=[10]), RatioReport("a"))
    assert [(r.system, r.count) for r in results] == [("a", 10), ("b", 10)]
    assert (output / "runs" / "n10" / "b-seed3" / "result.json").exists()


def test_ratio_and_count_splits_are_not_swept_into_one_folder(tmp_path, train_path):
    output = tmp_path / "out"
    finish_run(output, 0.1, "a", 0.3)
    with pytest.raises(SplitMismatchError, match="would hold runs on splits by labeled ratio and by sentence count"):
        sweep(missing(tmp_path, "a"), output, train_path).run(plan(["a"], [0], counts=[10]), RatioReport())
    assert not (output / "runs" / "n10").exists()


def test_a_run_another_sweep_is_training_is_skipped_and_so_is_its_student(tmp_path, train_path, monkeypatch, claimed_elsewhere):
    """Two sweeps into one folder side by side: the run the other one is training (and the
    student that needs its model) is left to it, the rest trained here; once it is done, a
    sweep trains what is still missing."""
    monkeypatch.setattr("bench.runs.train_run", fake_train_run)
    monkeypatch.setattr("bench.runs.evaluate_model", lambda model, test, texts: {"ents_f": 0.4})
    output = tmp_path / "out"
    found = missing(tmp_path, "a", "b", "student")
    parse_self_training(["student=b"], found)
    lines = []
    with claimed_elsewhere(run_folder(output, 0.1, "b", 0)):
        results = ratios(found, [0.1], [0], output, train_path, log=lines.append)
    assert [r.system for r in results] == ["a"]
    skipped = [line for line in lines if "skipped, " in line]
    assert [line.split(": skipped")[0] for line in skipped] == ["[2/3] ratio 0.1 seed 0 b", "[3/3] ratio 0.1 seed 0 student"]
    assert all("b-seed0 is being trained by another process" in line for line in skipped)
    assert [r["system"] for r in json.loads((output / "results.json").read_text())] == ["a"]
    results = ratios(missing(tmp_path, "a", "b"), [0.1], [0], output, train_path, log=lines.append)
    assert [(r.system, r.test["ents_f"]) for r in results] == [("a", 0.4), ("b", 0.4)]
