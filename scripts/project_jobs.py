"""The `python -m bench ratios` sweeps of project.yml commands as independent jobs, one per
(ratio or count, seed), for scripts/gpu_check.sh's `project` job set: a lent GPU runs them side
by side where the CPU runs each command's splits one after another.

    python3 scripts/project_jobs.py [--var NAME=VALUE ...] [--reports DIR] [--report-only] COMMAND ...

prints one line a job: a log name, then the command's arguments, shell-quoted (what `xargs -L 1`
reads). Every job of a sweep writes into DIR/<the sweep's report folder>, so the splits of one
sweep fill one table; `--report-only` prints, per sweep, the line that rewrites its reports from
every run finished there. The commands are read from project.yml by weasel (spaCy's project
library), their ${vars.NAME} resolved from its vars and the --var overrides, so the job set runs
what `spacy project run` runs.
"""
import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from weasel.util import load_project_config

PROJECT = Path(__file__).resolve().parent.parent
SWEEP = ["python", "-m", "bench", "ratios"]
# The options whose comma-separated values split a sweep into jobs: seeds, and ratios or counts.
SPLIT_BY = ("--ratios", "--counts", "--seeds")


class ProjectCommandError(ValueError):
    pass


def command_lines(project: Dict[str, Any], name: str) -> List[str]:
    """The script lines of the project's command `name` (a config weasel loaded, vars resolved)."""
    commands = {command["name"]: command for command in project.get("commands", [])}
    if name not in commands:
        raise ProjectCommandError(f"project.yml: no command {name!r}")
    return commands[name].get("script", [])


def sweep_jobs(name: str, line: str, reports: Path) -> Tuple[List[str], List[Tuple[str, List[str]]]]:
    """The sweep of one script line, its report folder moved under `reports`, and its jobs:
    (log name, arguments), one per combination of the values of SPLIT_BY."""
    args = shlex.split(line)
    if args[: len(SWEEP)] != SWEEP or len(args) <= len(SWEEP):
        raise ProjectCommandError(f"command {name!r} runs {' '.join(args[:4])!r}, not a `python -m bench ratios` sweep")
    output = len(SWEEP)
    args[output] = str(reports / Path(args[output]).name)
    args[0] = sys.executable  # the machine's Python may have no `python`
    jobs = [(Path(args[output]).name, args)]
    for index in (args.index(option) + 1 for option in SPLIT_BY if option in args):
        jobs = [
            (f"{log}_{value}", [*job[:index], value, *job[index + 1 :]])
            for log, job in jobs
            for value in args[index].split(",")
        ]
    return args, jobs


def project_jobs(names: Sequence[str], overrides: Dict[str, str], reports: Path, report_only: bool) -> Iterator[str]:
    # weasel resolves ${vars.NAME} as `spacy project run --vars.NAME` does
    project = load_project_config(PROJECT, overrides={f"vars.{name}": value for name, value in overrides.items()})
    for name in names:
        for number, line in enumerate(command_lines(project, name)):
            sweep, jobs = sweep_jobs(name, line, reports)
            if report_only:
                jobs = [(f"{name}_{number}_report", [*sweep, "--report-only"])]
            for log, args in jobs:
                yield " ".join([log, *(shlex.quote(arg) for arg in args)])


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="scripts/project_jobs.py")
    parser.add_argument("commands", nargs="+", metavar="COMMAND", help="project.yml commands that run `python -m bench ratios`")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a project var, as --vars.NAME")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the folder of the sweeps' report folders")
    parser.add_argument("--report-only", action="store_true", help="print the lines that rewrite each sweep's reports")
    options = parser.parse_args(argv)
    overrides = dict(var.split("=", 1) for var in options.var if "=" in var)
    if len(overrides) != len(options.var):
        parser.error("--var takes NAME=VALUE")
    try:
        for job in project_jobs(options.commands, overrides, options.reports, options.report_only):
            print(job)
    except ProjectCommandError as error:
        print(f"project_jobs: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
