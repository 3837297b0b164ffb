"""`python -m spacy_lowner ratios`: F1 against the labeled ratio, for several systems."""
import os
from pathlib import Path
from typing import List, Optional

import spacy
import torch
import typer
from wasabi import msg

from ..ratios import (
    cost_table,
    measure_training_cost,
    ratio_table,
    run_ratio_sweep,
    save_training_cost,
    write_reports,
)
from ..sampling import CoverTooLargeError
from . import app, fail
from .benchmark import (
    DEV_OPTION,
    GPU_OPTION,
    TEST_OPTION,
    parse_numbers,
    parse_pairs,
    parse_systems,
)

# Docs per batch when timing each system's update.
COST_BATCH_SIZE = 32


@app.command("ratios")
def ratios_cli(
    output: Path = typer.Argument(..., help="Folder for splits/, runs/, results.json, results.md and f1_by_ratio.png."),
    system: List[str] = typer.Option(
        ..., "--system", "-s", help="NAME=CONFIG, repeated. Every config must accept paths.train, paths.unlabeled and paths.dev."
    ),
    train: Path = typer.Option(..., help="Labeled training DocBin that the splits are drawn from.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    test: Path = TEST_OPTION,
    extra_unlabeled: Optional[Path] = typer.Option(
        None, help="DocBin of more unlabeled text, added to every split's unlabeled part.", exists=True, dir_okay=False
    ),
    ratios: str = typer.Option("0.01,0.02,0.05,0.1,0.2,0.5,1.0", help="Comma-separated labeled ratios of train."),
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds: each draws its own split, shared by all systems."),
    baseline: str = typer.Option("", help="System the others are compared with (F1 difference, training cost)."),
    override: List[str] = typer.Option([], "--override", "-o", help="KEY=VALUE config overrides for every run."),
    cost_batches: int = typer.Option(
        20, help="Batches to time each system's update on (the same batches for all, ratio 0.1 split of the first seed); 0: skip."
    ),
    title: str = typer.Option("", help="Title of the plot."),
    report_only: bool = typer.Option(False, "--report-only", help="Train nothing: report the runs finished in OUTPUT so far."),
    gpu_id: int = GPU_OPTION,
    threads: int = typer.Option(
        0, help="CPU threads per training run (OMP_NUM_THREADS); 1 is fastest for small models on a busy CPU. 0: leave as is."
    ),
) -> None:
    """Draw a low-resource split per ratio and seed (every entity type labeled at least once,
    the rest of train as unlabeled text), train every system on it, and score on test.

    Writes a table of test F1 (mean ± std over seeds) per ratio and a plot with a std band.
    Finished runs are skipped, so an interrupted sweep resumes; the reports are rewritten
    after every run and cover every run finished in OUTPUT, so sweeps over other ratios or
    systems into the same folder (even in parallel) add to the table. Then times one update
    of each system on the same batches (cost.json, shown under the table).
    """
    try:  # checked now, not at the plot after the first run has trained
        import matplotlib  # noqa: F401
    except ImportError:
        fail("The ratio benchmark draws its plot with matplotlib, which is not installed: pip install 'spacy-lowner[benchmark]'")
    systems = parse_systems(system, baseline)
    ratio_list = parse_numbers(ratios, float, "--ratios")
    if not ratio_list or any(not 0 < r <= 1 for r in ratio_list):
        fail(f"--ratios must be in (0, 1], got {ratios!r}")
    seed_list = parse_numbers(seeds, int, "--seeds")
    if threads:
        # Inherited by the `spacy train` subprocesses; torch's small per-token ops slow down
        # badly when its threads compete for the cores.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
    overrides = parse_pairs(override, "--override")
    try:
        results = run_ratio_sweep(
            systems, ratio_list, seed_list, output, train, dev, test, overrides,
            extra_unlabeled=extra_unlabeled, gpu_id=gpu_id, baseline=baseline or None, title=title,
            train_missing=not report_only, log=msg.text,
        )
    except CoverTooLargeError as err:
        fail(f"{train}: {err}")
    msg.good(f"Wrote {output / 'results.json'}, {output / 'results.md'} and {output / 'f1_by_ratio.png'}")
    print(ratio_table(results, baseline or None))
    if cost_batches and baseline and len(systems) > 1:
        split = output / "splits" / f"r0.1-seed{seed_list[0]}"
        if not split.is_dir():
            split = min((output / "splits").iterdir())
        cost_overrides = {
            "paths.train": str(split / "labeled.spacy"), "paths.unlabeled": str(split / "unlabeled.spacy"),
            "paths.dev": str(dev), **overrides,
        }
        corpus_system = next(name for name in systems if name != baseline)
        if gpu_id >= 0:  # time the updates where the sweep trained
            spacy.require_gpu(gpu_id)
        seconds = measure_training_cost(
            systems, corpus_system, cost_overrides, batches=cost_batches, batch_size=COST_BATCH_SIZE, log=msg.text
        )
        cost = save_training_cost(output, seconds, baseline, split.name, cost_batches, COST_BATCH_SIZE)
        write_reports(results, output, baseline, title)
        print(cost_table(cost))
