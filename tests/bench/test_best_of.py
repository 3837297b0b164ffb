from pathlib import Path

import pytest

from bench.best_of import best_of_runs
from bench.runs import RunResult
from bench.systems import OptionError, System, parse_best_of


def run(system, seed, dev_f, test_f, ratio=0.1, steps=500):
    return RunResult(system, seed, "x.cfg", steps=steps, epochs=1, train_seconds=1.0, dev_f=dev_f, test={"ents_f": test_f}, ratio=ratio)


def test_each_split_takes_the_restart_dev_prefers_and_reads_its_test_score():
    results = [
        run("supervised", 0, 0.50, 0.40), run("restart1", 0, 0.55, 0.38), run("restart2", 0, 0.52, 0.45),
        run("supervised", 1, 0.60, 0.50), run("restart1", 1, 0.60, 0.30), run("restart2", 1, 0.58, 0.55),
        run("supervised", 2, 0.60, 0.50), run("restart1", 2, 0.70, 0.30),  # restart2 not finished on seed 2
        run("self_train2", 0, 0.58, 0.47),
    ]
    rows = best_of_runs(results, {"best3": ["supervised", "restart1", "restart2"]})
    assert [(r.system, r.seed, r.dev_f, r.test["ents_f"]) for r in rows] == [
        ("best3", 0, 0.55, 0.38),  # dev picks restart1: its test score, though restart2's is higher
        ("best3", 1, 0.60, 0.50),  # equal dev: the first listed
    ]
    assert [r.system for r in rows[0].trainings] == ["supervised", "restart1", "restart2"]
    assert sum(t.steps for t in rows[0].trainings) == 1500
    assert results[0].trainings == [results[0]]


def test_splits_are_ratio_and_seed():
    results = [run("a", 0, 0.5, 0.4, ratio=0.05), run("b", 0, 0.6, 0.3, ratio=0.05), run("a", 0, 0.7, 0.6), run("b", 0, 0.6, 0.5)]
    rows = best_of_runs(results, {"best": ["a", "b"]})
    assert [(r.ratio, r.test["ents_f"]) for r in rows] == [(0.05, 0.3), (0.1, 0.6)]


@pytest.mark.parametrize(
    "spec", ["best=a", "best=a,a", "best=a,c", "a=a,b", "best"],
)
def test_bad_best_of_specs_are_option_errors(spec):
    systems = {name: System(name, Path(f"{name}.cfg")) for name in ("a", "b")}
    with pytest.raises(OptionError, match="--best-of must look like"):
        parse_best_of([spec], systems)
    assert parse_best_of(["best=a, b"], systems) == {"best": ["a", "b"]}
