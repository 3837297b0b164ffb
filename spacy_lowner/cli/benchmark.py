"""`python -m spacy_lowner benchmark`: train several systems over seeds and compare them."""
from pathlib import Path
from typing import List

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


@app.command("benchmark")
def benchmark_cli(
    output: Path = typer.Argument(..., help="Folder for the runs, results.json and results.md."),
    system: List[str] = typer.Option(
        ..., "--system", "-s", help="NAME=CONFIG, repeated: each system is a spaCy training config."
    ),
    train: Path = typer.Option(..., help="Training DocBin.", exists=True, dir_okay=False),
    dev: Path = typer.Option(..., help="Dev DocBin (model selection).", exists=True, dir_okay=False),
    test: Path = typer.Option(..., help="Test DocBin (reported scores).", exists=True, dir_okay=False),
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds; every system runs every seed."),
    baseline: str = typer.Option("", help="System that the speed ratios are relative to."),
    override: List[str] = typer.Option(
        [], "--override", "-o", help="KEY=VALUE config overrides for every run, e.g. training.max_steps=2000."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Train each system with each seed (model chosen on dev), score it on test, measure
    inference speed of all models in one process, and write a table of mean ± std.

    Finished runs (runs/NAME-seedK/result.json) are skipped, so an interrupted sweep resumes.
    """
    systems = {name: Path(cfg) for name, cfg in parse_pairs(system, "--system").items()}
    for name, cfg in systems.items():
        if not cfg.is_file():
            fail(f"Config for system {name} not found: {cfg}")
    if baseline and baseline not in systems:
        fail(f"--baseline {baseline} is not one of the systems {sorted(systems)}")
    seed_list = [int(seed) for seed in seeds.split(",") if seed.strip()]
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
