import json
import shutil
from pathlib import Path

import pytest
from spacy.tokens import DocBin

from bench.ratios import make_split
from bench.reports import RatioReport
from bench.runs import RunResult, evaluate_model, read_result, write_result
from bench.sweep import Sweep, SweepData, plan
from bench.systems import KLContinuation, OptionError, System, kl_phase_comparisons, parse_kl_phase


def systems(*names):
    return {name: System(name, Path(f"{name}.cfg"), parts=[Path("part.cfg")]) for name in names}


def test_specs_add_systems_that_continue_their_base():
    found = systems("supervised")
    parse_kl_phase(
        ["kl_prior=supervised:prior", "control=supervised:prior:off:pairs=40", "kl_enc=supervised:confidence:train-encoder:pairs=8",
         "kl_sg=kl_prior:confidence:stop-gradient"],
        found,
    )
    assert list(found) == ["supervised", "kl_prior", "control", "kl_enc", "kl_sg"]
    assert found["kl_prior"].kl_phase == KLContinuation("supervised", "prior")
    assert found["control"].kl_phase == KLContinuation("supervised", "prior", off=True, pairs=40)
    assert found["kl_enc"].kl_phase == KLContinuation("supervised", "confidence", pairs=8, train_encoder=True)
    assert found["kl_sg"].kl_phase == KLContinuation("kl_prior", "confidence", stop_gradient=True)  # a continuation's continuation
    # the base's config, for the record; the spec says what it continues
    assert (found["kl_prior"].config, found["kl_prior"].parts) == (Path("supervised.cfg"), [Path("part.cfg")])
    assert found["control"].spec == "kl-phase from supervised:prior:off:pairs=40"
    # the number of pairs is always passed (the paper's: 40 prior, 80 confidence), so that the recorded command says it
    assert found["kl_prior"].kl_phase.options() == ["--term", "prior", "--pairs", "40"]
    assert found["control"].kl_phase.options() == ["--term", "prior", "--pairs", "40", "--kl-steps-off"]
    assert found["kl_enc"].kl_phase.options() == ["--term", "confidence", "--pairs", "8", "--train-encoder"]
    assert found["kl_sg"].kl_phase.options() == ["--term", "confidence", "--pairs", "80", "--stop-gradient"]


@pytest.mark.parametrize(
    "spec,message",
    [
        ("kl=unknown:prior", "BASE a system listed before it"),
        ("supervised=supervised:prior", "NAME a new name"),
        ("kl=supervised", "NAME=BASE:TERM"),
        ("kl:supervised:prior", "NAME=BASE:TERM"),
        ("kl=supervised:entropy", "the KL term must be one of prior, confidence"),
        ("kl=supervised:prior:pairs=0", "pairs must be at least 1"),
        ("kl=supervised:prior:pairs=x", "'pairs=x' is not one of off, stop-gradient, train-encoder or pairs=N"),
        ("kl=supervised:prior:frozen", "'frozen' is not one of"),
        ("kl=supervised:prior:stop-gradient", "stop_gradient applies to the confidence KL only"),
    ],
)
def test_bad_specs_are_option_errors(spec, message):
    with pytest.raises(OptionError, match=message):
        parse_kl_phase([spec], systems("supervised"))


def test_a_base_must_be_listed_before_its_continuation():
    with pytest.raises(OptionError, match="BASE a system listed before it"):
        parse_kl_phase(["kl=later:prior", "later=supervised:prior"], systems("supervised"))


def test_each_continuation_is_paired_with_the_control_that_takes_its_supervised_steps():
    found = systems("supervised", "other")
    parse_kl_phase(
        ["kl_prior=supervised:prior", "control_prior=supervised:confidence:off:pairs=40", "kl_conf=supervised:confidence",
         "kl_conf_sg=supervised:confidence:stop-gradient", "control_conf=supervised:confidence:off",
         "kl_enc=supervised:confidence:train-encoder", "kl_other=other:prior:pairs=40", "kl_prior_short=supervised:prior:pairs=4",
         "control_confidence_short=supervised:confidence:off:pairs=4", "control_prior_short=supervised:prior:off:pairs=4"],
        found,
    )
    assert kl_phase_comparisons(found) == {
        "kl_prior": ("supervised", "control_prior"),  # 40 supervised steps either way
        "control_prior": ("supervised", None),
        "kl_conf": ("supervised", "control_conf"),
        "kl_conf_sg": ("supervised", "control_conf"),
        "control_conf": ("supervised", None),
        "kl_enc": ("supervised", None),  # its control would train the encoder too
        "kl_other": ("other", None),  # another base
        "kl_prior_short": ("supervised", "control_prior_short"),  # both controls fit: the one of its term
        "control_confidence_short": ("supervised", None),
        "control_prior_short": ("supervised", None),
    }


@pytest.fixture
def corpus(tmp_path, weibo_docs):
    """60 train sentences; dev; a test set half of whose sentences are in train."""
    paths = {name: tmp_path / f"{name}.spacy" for name in ("train", "dev", "test")}
    DocBin(docs=weibo_docs[1]).to_disk(paths["train"])
    DocBin(docs=weibo_docs[2]).to_disk(paths["dev"])
    DocBin(docs=weibo_docs[1][:10] + weibo_docs[2][:10]).to_disk(paths["test"])
    return paths


def kl_sweep(tmp_path, corpus, log=lambda _: None):
    """supervised (whose config does not exist: training it would fail) and two continuations of it."""
    found = {"supervised": System("supervised", tmp_path / "no-supervised.cfg")}
    parse_kl_phase(["kl_conf=supervised:confidence:pairs=2", "control=supervised:confidence:off:pairs=2"], found)
    data = SweepData(corpus["train"], corpus["dev"], corpus["test"], dedup_test=True)
    return Sweep(found, tmp_path / "out", data, {}, bench_command="python -m bench ratios out", log=log)


def finish_base(output, trained_pipeline, dev_f=0.25):
    """supervised's run at ratio 0.2, seed 0, as the sweep leaves it: model-best and result.json."""
    run_dir = output / "runs" / "r0.2" / "supervised-seed0"
    shutil.copytree(trained_pipeline, run_dir / "model-best")
    result = RunResult("supervised", 0, "configs/weibo_cnn.cfg", steps=100, epochs=3, train_seconds=1.0, dev_f=dev_f, test={"ents_f": 0.3})
    write_result(result, run_dir / "result.json")
    return run_dir


def test_a_continuation_runs_from_the_base_model_and_records_split_command_and_token_scores(
    tmp_path, corpus, trained_pipeline, monkeypatch
):
    sweep = kl_sweep(tmp_path, corpus)
    output = sweep.output
    finish_base(output, trained_pipeline)
    cells = plan(list(sweep.systems), [0], [0.2])
    report = RatioReport("supervised", continuations=kl_phase_comparisons(sweep.systems))
    sweep.run(cells, report)

    split = make_split(corpus["train"], 0.2, 0, output / "splits" / "r0.2-seed0")
    kl_run = output / "runs" / "r0.2" / "kl_conf-seed0"
    assert sorted(path.name for path in kl_run.iterdir()) == ["kl_phase.json", "model-best", "model-last", "result.json", "train.log"]
    assert not list((output / "runs" / "r0.2").glob(".*.log"))  # the log moved into the run
    phase = json.loads((kl_run / "kl_phase.json").read_text())
    result = read_result(kl_run / "result.json")
    assert result.split == split.record and result.split["labeled_docs"] == 12
    base_model = output / "runs" / "r0.2" / "supervised-seed0" / "model-best"
    assert result.train_command == (
        f"python -m spacy_lowner kl-phase {base_model} {kl_run} --labeled {split.labeled} --unlabeled {split.unlabeled} "
        f"--dev {corpus['dev']} --term confidence --pairs 2 --seed 0 --gpu-id -1"
    )
    assert result.bench_command == "python -m bench ratios out"
    assert result.config == "configs/weibo_cnn.cfg"  # the base's
    assert (result.steps, phase["kl_steps"], phase["supervised_steps"]) == (4, 2, 2)
    assert result.train_seconds == phase["seconds"] > 0
    # dev before the first pair (the base's pipeline) and after the last, at the steps taken by then
    assert result.dev_curve == [(0, phase["curve"][0]["scores"]["ents_f"]), (4, phase["curve"][1]["scores"]["ents_f"])]
    assert result.dev_f == phase["best"]["scores"]["ents_f"]
    # model-best scored on test like every run, with the paper's two token scores, also without train's repeats
    best = evaluate_model(kl_run / "model-best", corpus["test"], sweep.data.train_texts)
    last = evaluate_model(kl_run / "model-last", corpus["test"], sweep.data.train_texts)
    assert result.test == {**best, **{f"{key}_last": value for key, value in last.items()}}
    assert {"tokens_macro_f", "tokens_acc_no_o", "tokens_macro_f_dedup", "tokens_acc_no_o_dedup", "ents_f_dedup"} <= set(best)

    control = read_result(output / "runs" / "r0.2" / "control-seed0" / "result.json")
    assert "--kl-steps-off" in control.train_command and "--unlabeled" not in control.train_command
    assert control.steps == 2

    text = (output / "results.md").read_text()
    assert "Test token accuracy without O (%)" in text
    rows = [line for line in text.split("Test entity F1 (%), the best pair on dev (ents_f):")[1].splitlines() if line.startswith("| 0.2 |")]
    assert [row.split(" | ")[1] for row in rows[:2]] == ["kl_conf", "control"]
    assert rows[0].split(" | ")[4] == "control" and rows[0].split(" | ")[6] == "supervised"
    assert rows[1].split(" | ")[4:6] == ["-", "-"]
    assert "(tokens_acc_no_o_dedup):" in text and "after the last pair, as the paper (ents_f_last):" in text

    # resumed: nothing runs again, each run is read back
    monkeypatch.setattr("bench.kl_phase.logged_lines", pytest.fail)
    lines = []
    sweep.log = lines.append
    sweep.run(cells, report)
    assert sum(line.endswith("(done before)") for line in lines) == 3
    assert read_result(kl_run / "result.json") == result

    # a continuation that finished but was not scored (stopped in between) is scored, not run again
    (kl_run / "result.json").unlink()
    sweep.run(cells, report)
    assert read_result(kl_run / "result.json").test == result.test


def test_a_restored_base_without_its_model_is_trained_again_first(tmp_path, corpus, trained_pipeline, monkeypatch):
    """A fresh clone's base run is a results.json record without a model: the continuation
    needs one, so the base is trained again and its new result replaces the recorded one."""
    sweep = kl_sweep(tmp_path, corpus)
    base_run = finish_base(sweep.output, trained_pipeline, dev_f=0.25)
    shutil.rmtree(base_run / "model-best")
    trained = []

    def train_and_score(system, seed, config, run_dir, test_path, overrides, gpu_id, log, **record):
        trained.append(system)
        shutil.copytree(trained_pipeline, run_dir / "model-best")
        result = RunResult(system, seed, str(config), steps=10, epochs=1, train_seconds=1.0, dev_f=0.5, test={"ents_f": 0.4})
        write_result(result, run_dir / "result.json")
        return result, True

    def continue_and_score(system, seed, base, run_dir, *args, **kwargs):
        assert (base / "model-best").is_dir()
        result = RunResult(system.name, seed, "x.cfg", steps=4, epochs=0, train_seconds=1.0, dev_f=0.5, test={"ents_f": 0.45})
        write_result(result, run_dir / "result.json")
        return result

    monkeypatch.setattr("bench.sweep.train_and_score", train_and_score)
    monkeypatch.setattr("bench.sweep.continue_and_score", continue_and_score)
    lines = []
    sweep.log = lines.append
    sweep.run(plan(["kl_conf"], [0], [0.2]), RatioReport())
    assert trained == ["supervised"]
    assert any("supervised's run was restored from results.json without its model: training it again" in line for line in lines)
    assert read_result(base_run / "result.json").dev_f == 0.5
