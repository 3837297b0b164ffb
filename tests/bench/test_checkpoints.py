import json
import shutil
from dataclasses import asdict, replace

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from bench.checkpoints import checkpoint_table, score_last_checkpoints
from bench.runs import RunResult, evaluate_model


def recorded_run(system, seed, f):
    return RunResult(
        system, seed, "x.cfg", steps=300, epochs=2, train_seconds=1.0, dev_f=0.6,
        test={"ents_f": f}, dev_curve=[(100, 0.5), (200, 0.6), (300, 0.55)],
    )


@pytest.fixture(scope="module")
def benchmark_folder(tmp_path_factory, weibo_docs):
    """Two systems' runs with model-last (one trained on the test docs, one untrained) and a
    third run restored from results.json, without models."""
    vocab, train_docs, _ = weibo_docs
    folder = tmp_path_factory.mktemp("checkpoints")
    test_path = folder / "test.spacy"
    DocBin(docs=train_docs[:20]).to_disk(test_path)
    examples = [Example(spacy.blank("zh", vocab=vocab).make_doc(d.text), d) for d in train_docs[:20]]
    for system, updates in (("trained", 40), ("untrained", 0)):
        nlp = spacy.blank("zh", vocab=vocab)
        nlp.add_pipe("lowner_ner")
        optimizer = nlp.initialize(lambda: examples)
        for _ in range(updates):
            nlp.update(examples, sgd=optimizer)
        run = folder / "out" / "runs" / f"{system}-seed0"
        run.mkdir(parents=True)
        nlp.to_disk(run / "model-last")
        (run / "result.json").write_text(json.dumps(asdict(recorded_run(system, 0, 0.5))))
    restored = folder / "out" / "runs" / "restored-seed0"
    restored.mkdir(parents=True)
    (restored / "result.json").write_text(json.dumps(asdict(recorded_run("restored", 0, 0.5))))
    return folder / "out", test_path


def test_model_last_is_scored_beside_the_recorded_model_best(benchmark_folder):
    output, test_path = benchmark_folder
    lines = []
    rows = score_last_checkpoints(output, test_path, log=lines.append)
    assert [(r["system"], r["ratio"], r["seed"]) for r in rows] == [("trained", None, 0), ("untrained", None, 0)]
    trained, untrained = rows
    assert trained["best"] == 0.5 and trained["best_step"] == 200 and trained["last_step"] == 300
    assert trained["dev_best"] == 0.6 and trained["dev_last"] == 0.55
    assert trained["last"] == pytest.approx(evaluate_model(output / "runs" / "trained-seed0" / "model-last", test_path)["ents_f"])
    assert trained["last"] > untrained["last"]  # the scores are the models', not a constant
    assert any("1 runs have no model-last" in line for line in lines)
    assert json.loads((output / "checkpoints.json").read_text()) == rows
    assert (output / "checkpoints.md").read_text().strip() == checkpoint_table(rows)


def test_runs_scored_before_are_kept_not_scored_again(benchmark_folder, monkeypatch):
    output, test_path = benchmark_folder
    first = score_last_checkpoints(output, test_path, log=lambda _: None)

    def no_scoring(model, path):
        raise AssertionError(f"{model} was scored again")

    monkeypatch.setattr("bench.checkpoints.evaluate_model", no_scoring)
    assert score_last_checkpoints(output, test_path, log=lambda _: None) == first


def test_the_table_pairs_last_with_dev_picked_per_system_and_over_all_runs():
    rows = [
        {"system": "a", "seed": 0, "best": 0.60, "last": 0.62, "best_step": 300},
        {"system": "a", "seed": 1, "best": 0.58, "last": 0.57, "best_step": 500},
        {"system": "b", "seed": 0, "best": 0.50, "last": 0.54, "best_step": None},
    ]
    table = {line.split("|")[1].strip(): line for line in checkpoint_table(rows).splitlines()[2:]}
    assert set(table) == {"a", "b", "all runs"}
    assert "| a | 2 | 400 | 59.00 ± 1.41 | 59.50 ± 3.54 | +0.50 [" in table["a"] and "1/1" in table["a"]
    assert "| b | 1 | - | 50.00 | 54.00 | +4.00 1/0 |" in table["b"]
    assert "| all runs | 3 |" in table["all runs"] and "+1.67 [" in table["all runs"] and "2/1" in table["all runs"]


def test_a_ratio_sweeps_runs_are_scored_per_ratio(benchmark_folder, tmp_path):
    """The same system and seed at two ratios are two runs (runs/rRATIO/NAME-seedK)."""
    output, test_path = benchmark_folder
    model = output / "runs" / "trained-seed0" / "model-last"
    for ratio in (0.05, 0.1):
        run = tmp_path / "runs" / f"r{ratio}" / "self_train-seed0"
        shutil.copytree(model, run / "model-last")
        (run / "result.json").write_text(json.dumps(asdict(replace(recorded_run("self_train", 0, 0.4), ratio=ratio))))
    rows = score_last_checkpoints(tmp_path, test_path, log=lambda _: None)
    assert [(r["ratio"], r["best"]) for r in rows] == [(0.05, 0.4), (0.1, 0.4)]
    table = checkpoint_table(rows)
    assert "| self_train at 0.05 | 1 |" in table and "| self_train at 0.1 | 1 |" in table and "| all runs | 2 |" in table
