"""The `python -m bench ratios` sweeps of project.yml commands as independent jobs, one per
(ratio or count, seed), for scripts/gpu_check.sh's `project` job set: a lent GPU runs them side
by side where the CPU runs each command's splits one after another.

    python3 scripts/project_jobs.py [--var NAME=VALUE ...] [--reports DIR] [--report-only] COMMAND ...

prints one line a job: a log name, then the command's arguments, shell-quoted (what `xargs -L 1`
reads). Every job of a sweep writes into DIR/<the sweep's report folder>, so the splits of one
sweep fill one table; `--report-only` prints, per sweep, the line that rewrites its reports from
every run finished there. The commands are read from project.yml, their ${vars.NAME} resolved
from its vars and the --var overrides, so the job set runs what `spacy project run` runs (the
CPU has spaCy's CLI; the packed GPU site has not).
"""
import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

import srsly

PROJECT = Path(__file__).resolve().parent.parent / "project.yml"
VAR = re.compile(r"\$\{vars\.([A-Za-z0-9_]+)\}")
SWEEP = ["python", "-m", "bench", "ratios"]
# The options whose comma-separated values split a sweep into jobs: seeds, and ratios or counts.
SPLIT_BY = ("--ratios", "--counts", "--seeds")


class ProjectCommandError(ValueError):
    pass


def command_lines(project: Path, name: str, overrides: Dict[str, str]) -> List[str]:
    """The script lines of project.yml's command `name`, their vars resolved."""
    config = srsly.read_yaml(project)
    variables = {**{key: str(value) for key, value in config.get("vars", {}).items()}, **overrides}
    commands = {command["name"]: command for command in config.get("commands", [])}
    if name not in commands:
        raise ProjectCommandError(f"{project}: no command {name!r}")

    def value(match: "re.Match[str]") -> str:
        if match.group(1) not in variables:
            raise ProjectCommandError(f"{project}: command {name!r} uses ${{vars.{match.group(1)}}}, which is not set")
        return variables[match.group(1)]

    return [VAR.sub(value, line) for line in commands[name].get("script", [])]


def sweep_jobs(name: str, line: str, reports: Path) -> Tuple[List[str], List[Tuple[str, List[str]]]]:
    """The sweep of one script line, its report folder moved under `reports`, and its jobs:
    (log name, arguments), one per combination of the values of SPLIT_BY."""
    args = shlex.split(line)
    if args[: len(SWEEP)] != SWEEP or len(args) <= len(SWEEP):
        raise ProjectCommandError(f"command {name!r} runs {' '.join(args[:4])!r}, not a `python -m bench ratios` sweep")
    output = len(SWEEP)
    args[output] = str(reports / Path(args[output]).name)
    args[0] = sys.executable  # the machine's Python may have no `python`
    splits = [(args.index(option), args[args.index(option) + 1].split(",")) for option in SPLIT_BY if option in args]
    jobs = [(Path(args[output]).name, args)]
    for index, values in splits:
        jobs = [
            (f"{log}_{value}", [*job[: index + 1], value, *job[index + 2 :]]) for log, job in jobs for value in values
        ]
    return args, jobs


def project_jobs(names: Sequence[str], overrides: Dict[str, str], reports: Path, report_only: bool) -> Iterator[str]:
    for name in names:
        for number, line in enumerate(command_lines(PROJECT, name, overrides)):
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
