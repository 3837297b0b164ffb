import json
from dataclasses import asdict

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from bench.runs import RunResult, read_result, write_result
from bench.sweep import run_sweep
from bench.systems import System
from bench.tables import benchmark_table


def result(system, seed, f, words_per_second=None):
    return RunResult(
        system, seed, f"{system}.cfg", steps=100, epochs=2, train_seconds=10.0, dev_f=f,
        test={"ents_f": f, "ents_p": f, "ents_r": f}, words_per_second=words_per_second,
    )


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


def test_results_of_earlier_sweeps_still_load(tmp_path):
    old = asdict(result("a", 0, 0.5))
    del old["dev_curve"]  # written before the dev curve was recorded
    (tmp_path / "result.json").write_text(json.dumps(old))
    assert read_result(tmp_path / "result.json").dev_curve == []


def test_sweep_skips_finished_runs_and_measures_speed(tmp_path, weibo_docs):
    vocab, train_docs, _ = weibo_docs
    test_path = tmp_path / "test.spacy"
    DocBin(docs=train_docs[:10]).to_disk(test_path)
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("lowner_ner")
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in train_docs[:10]])
    for system in ("a", "b"):
        run_dir = tmp_path / "out" / "runs" / f"{system}-seed0"
        run_dir.mkdir(parents=True)
        nlp.to_disk(run_dir / "model-best")
        (run_dir / "result.json").write_text(json.dumps(asdict(result(system, 0, 0.5))))
    # The configs do not exist: any attempt to train would fail.
    systems = {name: System(name, tmp_path / f"missing-{name}.cfg") for name in ("a", "b")}
    results = run_sweep(systems, [0], tmp_path / "out", test_path, test_path, test_path, {}, baseline="b", log=lambda _: None)
    assert [r.system for r in results] == ["a", "b"]
    assert all(r.words_per_second > 0 for r in results)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["words_per_second"] for r in saved] == pytest.approx([r.words_per_second for r in results])
    assert "| a |" in (tmp_path / "out" / "results.md").read_text()


def test_a_fresh_clone_keeps_the_recorded_runs_and_their_speed(tmp_path, weibo_docs):
    """results.json records a and c (runs/ is not committed); b's run is here with its model.
    A sweep over a and b trains nothing, times b, and keeps a's recorded speed and c's row."""
    vocab, train_docs, _ = weibo_docs
    test_path = tmp_path / "test.spacy"
    DocBin(docs=train_docs[:10]).to_disk(test_path)
    output = tmp_path / "out"
    (output / "runs" / "b-seed0").mkdir(parents=True)
    (output / "results.json").write_text(json.dumps([asdict(result("a", 0, 0.5, 700)), asdict(result("c", 0, 0.6, 800))]))
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("lowner_ner")
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in train_docs[:10]])
    nlp.to_disk(output / "runs" / "b-seed0" / "model-best")
    (output / "runs" / "b-seed0" / "result.json").write_text(json.dumps(asdict(result("b", 0, 0.4))))
    systems = {name: System(name, tmp_path / f"missing-{name}.cfg") for name in ("a", "b")}
    lines = []
    results = run_sweep(systems, [0], output, test_path, test_path, test_path, {}, baseline="b", log=lines.append)
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
    systems = {name: System(name, tmp_path / f"missing-{name}.cfg") for name in ("a", "b")}
    run_sweep(systems, [1], output, test_path, test_path, test_path, {}, baseline="a", log=lambda _: None)
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

    def train_and_score(system, seed, config, run_dir, test_path, overrides, gpu_id, log):
        if system == "b":
            raise KeyboardInterrupt  # the user stops the sweep during b's run
        finished = result(system, seed, 0.5)
        write_result(finished, run_dir / "result.json")
        return finished, True

    monkeypatch.setattr("bench.sweep.train_and_score", train_and_score)
    systems = {name: System(name, tmp_path / f"missing-{name}.cfg") for name in ("a", "b")}
    with pytest.raises(KeyboardInterrupt):
        run_sweep(systems, [0], output, tmp_path, tmp_path, tmp_path, {}, baseline="a", log=lambda _: None)
    assert [r["system"] for r in json.loads((output / "results.json").read_text())] == ["a", "c"]
    assert "| a | 0 | 50.00 |" in (output / "results.md").read_text()
