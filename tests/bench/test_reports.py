import json

import pytest

from bench.cost import save_training_cost
from bench.reports import CONTINUATION_TITLE, DEDUP_TITLE, SCORE_TITLES, BenchmarkReport, RatioReport, write_reports
from bench.runs import RunResult
from bench.systems import OptionError, parse_comparisons
from bench.tables import benchmark_table


def run(system, seed, f, ratio=None, dev_f=0.5, steps=500, dedup=None):
    test = {"ents_f": f, **({"ents_f_dedup": dedup} if dedup is not None else {})}
    return RunResult(
        system, seed, "x.cfg", steps=steps, epochs=1, train_seconds=1.0, dev_f=dev_f, test=test, ratio=ratio,
        dev_curve=[(100, 0.1), (steps // 2, dev_f), (steps, 0.2)],
    )


def restarts(ratio=0.1):
    """supervised and its restart on seeds 0, 1; the self-training method; a longer run."""
    return [
        run("supervised", 0, 0.30, ratio, dev_f=0.50), run("supervised", 1, 0.40, ratio, dev_f=0.60),
        run("restart1", 0, 0.34, ratio, dev_f=0.55), run("restart1", 1, 0.20, ratio, dev_f=0.50),
        run("self_train2", 0, 0.36, ratio), run("self_train2", 1, 0.44, ratio),
        run("supervised_long", 0, 0.33, ratio, steps=1500), run("supervised_long", 1, 0.42, ratio, steps=1500),
    ]


def test_the_method_is_read_against_the_best_of_restarts(tmp_path):
    """best2 takes restart1 on seed 0 (dev 0.55) and supervised on seed 1 (dev 0.60): 34 and
    40. As the baseline it is what self_train2 is compared with, pair by pair."""
    results = restarts()
    write_reports(results, tmp_path, RatioReport(baseline="best2", best_of={"best2": ["supervised", "restart1"]}))
    lines = (tmp_path / "results.md").read_text().splitlines()
    header = "| ratio | seeds | supervised | restart1 | self_train2 | supervised_long | best2 | supervised − best2 | restart1 − best2 | self_train2 − best2 | supervised_long − best2 |"
    assert header in lines
    row = next(line for line in lines if line.startswith("| 0.1 | 0,1 |"))
    # self_train2 − best2: +2 and +4 -> +3.00, t(1) interval 3 ± 12.706 * 1.414 / 1.414
    assert row.endswith("| 37.00 ± 4.24 | -2.00 [-27.41, +23.41] 0/1 | -10.00 [-137.06, +117.06] 0/1 | +3.00 [-9.71, +15.71] 2/0 | +0.50 [-18.56, +19.56] 1/1 |")
    # the budget: each system's steps, the best-of row's over all its trainings
    assert "| 0.1 | supervised_long | 1500 | 750 (750-750) |" in lines
    assert "| 0.1 | best2 | 1000 (2 trainings) | 250 (250-250) |" in lines
    assert [r["system"] for r in json.loads((tmp_path / "results.json").read_text())] == [r.system for r in results]


def test_asked_comparisons_pair_the_method_with_each_compute_matched_baseline(tmp_path):
    results = restarts() + [run("self_train2", 0, 0.30, 0.05), run("supervised_long", 0, 0.28, 0.05)]
    report = RatioReport(
        baseline="supervised", best_of={"best2": ["supervised", "restart1"]},
        comparisons={"self_train2": ["best2", "supervised_long", "restart2"]},
    )
    write_reports(results, tmp_path, report)
    text = (tmp_path / "results.md").read_text()
    section = text.split("the asked comparisons (--compare)")[1].split("\n\n")[1].splitlines()
    assert section == [
        "| ratio | comparison | difference |",
        "|---|---|---|",
        "| 0.05 | self_train2 − supervised_long | +2.00 1/0 |",  # one seed: no interval
        # best2 is 34 and 40 (dev picks restart1 on seed 0, supervised on seed 1): +2 and +4
        "| 0.1 | self_train2 − best2 | +3.00 [-9.71, +15.71] 2/0 |",
        "| 0.1 | self_train2 − supervised_long | +2.50 [-3.85, +8.85] 2/0 |",
    ]
    assert text.split("the asked comparisons (--compare)")[1].split("\n\n")[2] == "No runs of restart2."


@pytest.mark.parametrize("spec", ["a=", "a=a", "a=b,b", "a"])
def test_bad_comparisons_are_option_errors(spec):
    with pytest.raises(OptionError, match="--compare must look like|KEY=VALUE"):
        parse_comparisons([spec])
    assert parse_comparisons(["a=b, c"]) == {"a": ["b", "c"]}
    with pytest.raises(OptionError, match="each NAME once"):
        parse_comparisons(["a=b", "a=c"])


def test_a_benchmark_report_is_its_table_and_the_dedup_scores_under_it(tmp_path):
    results = [run("a", 0, 0.5), run("b", 0, 0.4)]
    write_reports(results, tmp_path, BenchmarkReport("b"))
    assert (tmp_path / "results.md").read_text() == benchmark_table(results, "b") + "\n"
    results = [run("a", 0, 0.5, dedup=0.45), run("a", 1, 0.6, dedup=0.5), run("b", 0, 0.4, dedup=0.42), run("b", 1, 0.4, dedup=0.4)]
    write_reports(results, tmp_path, BenchmarkReport("b", best_of={"best": ["a", "b"]}))
    text = (tmp_path / "results.md").read_text()
    dedup = text.split(DEDUP_TITLE)[1]
    assert "| system | seeds | ents_f_dedup | ents_f_dedup − b [95% CI] w/l |" in dedup
    assert "| a | 0,1 | 47.50 ± 3.54 | +6.50 [-37.97, +50.97] 2/0 |" in dedup
    assert "| best | 0,1 | 47.50 ± 3.54 |" in dedup  # equal dev F1: a, listed first
    assert "| best | 0,1 | " in text.split(DEDUP_TITLE)[0] and "| 1000 (2 trainings) |" in text


def test_a_ratio_report_shows_the_dedup_table_when_the_runs_have_it(tmp_path):
    write_reports([run("a", 0, 0.5, 0.1), run("b", 0, 0.4, 0.1)], tmp_path, RatioReport("b"))
    assert DEDUP_TITLE not in (tmp_path / "results.md").read_text()
    write_reports([run("a", 0, 0.5, 0.1, dedup=0.46), run("b", 0, 0.4, 0.1, dedup=0.41)], tmp_path, RatioReport("b"))
    dedup = (tmp_path / "results.md").read_text().split(DEDUP_TITLE)[1]
    assert "| 0.1 | 0 | 46.00 | 41.00 | +5.00 1/0 |" in dedup.split("Best dev checkpoint")[0]


def test_a_ratio_report_scores_the_named_mentions_alone_when_the_runs_have_them(tmp_path):
    write_reports([run("a", 0, 0.5, 0.1), run("b", 0, 0.4, 0.1)], tmp_path, RatioReport("b", comparisons={"a": ["b"]}))
    assert SCORE_TITLES["ents_f_NAM"].rstrip(":") not in (tmp_path / "results.md").read_text()
    results = [run("a", 0, 0.5, 0.1), run("b", 0, 0.4, 0.1)]
    for result, named in zip(results, (0.3, 0.1)):
        result.test["ents_f_NAM"] = named
    write_reports(results, tmp_path, RatioReport("b", comparisons={"a": ["b"]}))
    text = (tmp_path / "results.md").read_text()
    named = text.split(SCORE_TITLES["ents_f_NAM"])[1]
    assert "| 0.1 | 0 | 30.00 | 10.00 | +20.00 1/0 |" in named.split("Best dev checkpoint")[0]
    # the asked comparisons on the named mentions too
    compared = text.split(SCORE_TITLES["ents_f_NAM"].rstrip(":") + ", the asked comparisons")[1]
    assert "| 0.1 | a − b | +20.00 1/0 |" in compared


def test_cost_stays_under_the_tables_when_the_reports_are_rewritten(tmp_path):
    save_training_cost(tmp_path, {"supervised": 0.4, "ssgan": 0.6}, "supervised", "r0.1-seed0", 20, 32)
    assert json.loads((tmp_path / "cost.json").read_text())["systems"]["ssgan"]["ratio"] == pytest.approx(1.5)
    for results in ([run("supervised", 0, 0.3, 0.1)], [run("supervised", 0, 0.3, 0.1), run("ssgan", 0, 0.4, 0.1)]):
        write_reports(results, tmp_path, RatioReport("supervised"))
        text = (tmp_path / "results.md").read_text()
        assert "(r0.1-seed0, 20 batches of 32 docs)" in text
        assert text.endswith("| supervised | 0.400 | 1.00x |\n| ssgan | 0.600 | 1.50x |\n")
    assert "| 0.1 | 0 | 30.00 | 40.00 | +10.00 1/0 |" in text


def test_kl_phase_systems_are_read_against_their_control_and_base_on_each_score(tmp_path):
    """Two seeds at 0.05: kl gains 2 and 4 points of entity F1 over its control, which gains 1
    and 1 over the base; on test without train's repeats kl gains 1 and 2 points less; after
    the last pair (model-last) the continuations score 5 points below their dev-picked model."""
    def scored(system, seed, f, acc):
        result = run(system, seed, f, 0.05)
        result.test.update({"ents_f_dedup": f - 0.1 if system != "kl" else f - 0.1 - 0.01 * (seed + 1), "tokens_acc_no_o": acc})
        if system != "supervised":
            result.test["ents_f_last"] = f - 0.05
        return result

    results = [
        scored("supervised", 0, 0.30, 0.5), scored("supervised", 1, 0.40, 0.6), scored("control", 0, 0.31, 0.5),
        scored("control", 1, 0.41, 0.6), scored("kl", 0, 0.33, 0.55), scored("kl", 1, 0.45, 0.6),
    ]
    continuations = {"control": ("supervised", None), "kl": ("supervised", "control")}
    write_reports(results, tmp_path, RatioReport("supervised", continuations=continuations))
    text = (tmp_path / "results.md").read_text()
    # the other token score gets a table of its own beside the entity F1 tables
    assert "| 0.05 | 0,1 | 55.00 ± 7.07 | 55.00 ± 7.07 | 57.50 ± 3.54 | +0.00 [+0.00, +0.00] 0/0 | +2.50 [-29.27, +34.27] 1/0 |" in text
    blocks = text.split("\n\n")
    after = blocks[blocks.index(CONTINUATION_TITLE) + 1 :]
    sections = dict(zip(after[::2], after[1::2]))  # title -> table
    assert list(sections)[:5] == [
        "Test entity F1 (%), the best pair on dev (ents_f):",
        "Test entity F1 (%), after the last pair, as the paper (ents_f_last):",
        "Test entity F1 (%), without the test sentences whose text is in train, the best pair on dev (ents_f_dedup):",
        "Test token accuracy without O (%), the best pair on dev (tokens_acc_no_o):", "Best dev checkpoint of each run:",
    ]
    last = sections["Test entity F1 (%), after the last pair, as the paper (ents_f_last):"].splitlines()
    # model-last against the base's model: 5 points below the dev-picked differences (seed 1 a tie)
    assert last[3] == "| 0.05 | kl | 0,1 | 34.00 ± 8.49 | control | +3.00 [-9.71, +15.71] 2/0 | supervised | -1.00 [-13.71, +11.71] 0/1 |"
    f1 = sections["Test entity F1 (%), the best pair on dev (ents_f):"].splitlines()
    assert f1[0] == "| ratio | system | seeds | score | control | − control | base | − base |"
    assert f1[2] == "| 0.05 | control | 0,1 | 36.00 ± 7.07 | - | - | supervised | +1.00 [+1.00, +1.00] 2/0 |"
    assert f1[3] == "| 0.05 | kl | 0,1 | 39.00 ± 8.49 | control | +3.00 [-9.71, +15.71] 2/0 | supervised | +4.00 [-8.71, +16.71] 2/0 |"
    dedup = sections[
        "Test entity F1 (%), without the test sentences whose text is in train, the best pair on dev (ents_f_dedup):"
    ].splitlines()
    assert dedup[3] == "| 0.05 | kl | 0,1 | 27.50 ± 7.78 | control | +1.50 [-4.85, +7.85] 2/0 | supervised | +2.50 [-3.85, +8.85] 2/0 |"
