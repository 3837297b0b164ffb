"""scripts/project_jobs.py: project.yml's sweeps split into one job per (ratio or count, seed)
for scripts/gpu_check.sh's `project` job set."""
import importlib.util
import shlex
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "project_jobs.py"
spec = importlib.util.spec_from_file_location("project_jobs", SCRIPT)
project_jobs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(project_jobs)


def _jobs(*commands, report_only=False, **overrides):
    lines = project_jobs.project_jobs(commands, overrides, Path("/gpu/project"), report_only)
    return [(line.split(" ", 1)[0], shlex.split(line.split(" ", 1)[1])) for line in lines]


def _option(args, name):
    return args[args.index(name) + 1]


def test_a_sweep_splits_into_one_job_per_ratio_and_seed_writing_one_report_folder():
    jobs = _jobs("kl-phase-weibo-trf")
    # two script lines: ratios 0.01/0.05/0.1 over seeds 0-4, then 1.0 over seeds 0-2
    assert len(jobs) == 3 * 5 + 3
    assert [log for log, _ in jobs][:2] == ["kl_phase_weibo_trf_0.01_0", "kl_phase_weibo_trf_0.01_1"]
    assert {(_option(args, "--ratios"), _option(args, "--seeds")) for _, args in jobs} == {
        *((ratio, seed) for ratio in ("0.01", "0.05", "0.1") for seed in "01234"),
        *(("1.0", seed) for seed in "012"),
    }
    assert {args[4] for _, args in jobs} == {"/gpu/project/kl_phase_weibo_trf"}
    assert all(args[0] == sys.executable and args[1:4] == ["-m", "bench", "ratios"] for _, args in jobs)
    # everything else as project.yml has it, its vars resolved
    assert all("${" not in arg for _, args in jobs for arg in args)
    assert _option(jobs[0][1], "--gpu-id") == "-1"


def test_vars_are_overridden_and_quoted_arguments_survive():
    jobs = _jobs("crosslingual-weibo", gpu_id="0", ratio_seeds="3")
    assert len(jobs) == 1
    _, args = jobs[0]
    assert _option(args, "--gpu-id") == "0" and _option(args, "--seeds") == "3"
    assert 'word_adv_att:components.lowner_ner.objectives.word_adversarial.targets=["target","target_text"]' in args


def test_report_only_gives_one_line_per_sweep_over_every_split():
    jobs = _jobs("kl-phase-weibo-trf", report_only=True)
    assert [args[-1] for _, args in jobs] == ["--report-only", "--report-only"]
    assert [_option(args, "--seeds") for _, args in jobs] == ["0,1,2,3,4", "0,1,2"]


def test_a_command_that_is_no_ratios_sweep_or_unknown_is_refused():
    with pytest.raises(project_jobs.ProjectCommandError, match="not a `python -m bench ratios` sweep"):
        _jobs("advpicker")
    with pytest.raises(project_jobs.ProjectCommandError, match="no command 'kl-phase'"):
        _jobs("kl-phase")
    assert project_jobs.main(["advpicker"]) == 2
