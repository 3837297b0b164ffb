"""`python -m spacy_lowner benchmark`: train several systems over seeds and compare them."""
from pathlib import Path
from typing import Dict, List

import typer
from wasabi import msg

from ..benchmark import markdown_table, run_sweep
from . import app, fail


def parse_pairs(pairs: List[str], what: str) -> dict:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            fail(f"{what} must look like NAME=VALUE, got {pair!r}")
        parsed[key] = value
    return parsed


def parse_systems(pairs: List[str], baseline: str) -> Dict[str, Path]:
    """NAME=CONFIG pairs of --system, each config an existing file; baseline one of them."""
    systems = {name: Path(cfg) for name, cfg in parse_pairs(pairs, "--system").items()}
    for name, cfg in systems.items():
        if not cfg.is_file():
            fail(f"Config for system {name} not found: {cfg}")
    if baseline and baseline not in systems:
        fail(f"--baseline {baseline} is not one of the systems {sorted(systems)}")
    return systems


def parse_numbers(text: str, kind: type, what: str) -> list:
    try:
        return [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        fail(f"{what} must be a comma-separated list of numbers, got {text!r}")


# Options that the benchmark commands share.
DEV_OPTION = typer.Option(..., help="Dev DocBin (model selection).", exists=True, dir_okay=False)
TEST_OPTION = typer.Option(..., help="Test DocBin (reported scores).", exists=True, dir_okay=False)
GPU_OPTION = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU.")


@app.command("benchmark")
def benchmark_cli(
    output: Path = typer.Argument(..., help="Folder for the runs, results.json and results.md."),
    system: List[str] = typer.Option(
        ..., "--system", "-s", help="NAME=CONFIG, repeated: each system is a spaCy training config."
    ),
    train: Path = typer.Option(..., help="Training DocBin.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    test: Path = TEST_OPTION,
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds; every system runs every seed."),
    baseline: str = typer.Option("", help="System that the speed ratios are relative to."),
    override: List[str] = typer.Option(
        [], "--override", "-o", help="KEY=VALUE config overrides for every run, e.g. training.max_steps=2000."
    ),
    gpu_id: int = GPU_OPTION,
) -> None:
    """Train each system with each seed (model chosen on dev), score it on test, measure
    inference speed of all models in one process, and write a table of mean ± std.

    Finished runs (runs/NAME-seedK/result.json) are skipped, so an interrupted sweep resumes.
    """
    systems = parse_systems(system, baseline)
    seed_list = parse_numbers(seeds, int, "--seeds")
    results = run_sweep(
        systems,
        seed_list,
        output,
        train,
        dev,
        test,
        parse_pairs(override, "--override"),
        gpu_id=gpu_id,
        baseline=baseline or None,
        log=msg.text,
    )
    msg.good(f"Wrote {output / 'results.json'} and {output / 'results.md'}")
    print(markdown_table(results, baseline or None))
