"""`python -m bench ...`: the benchmark commands (run from the repository root)."""
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Dict, List, NoReturn, Optional, Sequence

import spacy
import torch
import typer
from spacy.tokens import DocBin
from wasabi import msg
from wasabi.util import locale_escape

from spacy_lowner.training.sampling import CoverTooLargeError

from .advpicker import (
    SELECTIONS, SYSTEMS, AdvPicker, AdvPickerConfigs, AdvPickerData, PickedSetError, check_systems, comparison_table,
)
from .checkpoints import checkpoint_table, score_last_checkpoints
from .cost import cost_table, measure_training_cost, save_training_cost
from .gradients import gradient_table, term_gradients
from .language_probe import probe_languages, probe_table, probes_json
from .long_doc import long_doc_table, long_text, measure_long_doc, read_text
from .ratios import UNLABELED_POOLS, make_split, split_folder
from .reports import BenchmarkReport, RatioReport, Report, write_reports
from .sweep import SplitMismatchError, Sweep, SweepData, plan
from .systems import (
    OptionError, System, kl_phase_comparisons, parse_best_of, parse_comparisons, parse_kl_phase, parse_numbers, parse_pairs,
    parse_self_training, parse_systems,
)
from .tables import benchmark_table, ratio_table

app = typer.Typer(
    name="bench",
    help="Benchmarks of spacy-lowner: train systems over seeds and splits, compare them paired.",
    no_args_is_help=True,
    add_completion=False,
)

# Docs per batch when timing each system's update.
COST_BATCH_SIZE = 32
# The labeled ratios of `bench ratios` when neither --ratios nor --counts is given.
DEFAULT_RATIOS = "0.01,0.05,0.1"

# Options the commands share.
SYSTEM_OPTION = typer.Option(
    ..., "--system", "-s", help="NAME=CONFIG or NAME=BASE+PART+..., repeated: a training config, or one composed of a base and partials."
)
SET_OPTION = typer.Option([], "--set", help="SYSTEM:KEY=VALUE, repeated: a config override for one system only.")
OVERRIDE_OPTION = typer.Option([], "--override", "-o", help="KEY=VALUE config overrides for every run, e.g. training.max_steps=2000.")
DEV_OPTION = typer.Option(..., help="Dev DocBin (model selection).", exists=True, dir_okay=False)
TEST_OPTION = typer.Option(..., help="Test DocBin (reported scores).", exists=True, dir_okay=False)
GPU_OPTION = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU.")
THREADS_OPTION = typer.Option(
    0, help="CPU threads per training run (OMP_NUM_THREADS); 1 is fastest for small models on a busy CPU. 0: leave as is."
)
BEST_OF_OPTION = typer.Option(
    [], "--best-of", help="NAME=SYSTEM,SYSTEM[,...], repeated: a row NAME that takes, per split, the run of those systems "
    "(restarts: --set restart1:system.seed=101) with the highest dev F1 and reads its test scores; compared like any "
    "system, and may be the --baseline. The compute-matched baseline of a method that trains N times."
)
DEDUP_TEST_OPTION = typer.Option(
    False, "--dedup-test", help="Score on test also without the sentences whose text is in --train (ents_f_dedup, a table "
    "of its own): WeiboNER's train repeats 40 of its 270 test sentences."
)
RETRAIN_UNSCORED_OPTION = typer.Option(
    False, "--retrain-unscored", help="With --dedup-test: train again the finished runs of the given systems that were "
    "scored before --dedup-test existed and whose model is gone (restored from results.json), so every row has the scores "
    "without test's repeats; the new result replaces the recorded one. A training per such run."
)
REPORT_ONLY_OPTION = typer.Option(False, "--report-only", help="Train nothing: report the runs finished in OUTPUT so far.")


def fail(text: str) -> NoReturn:
    """Report a user error (bad option, bad input) on one line of stderr and exit 1, no
    traceback: wasabi's msg.fail would wrap it at 80 columns, splitting the paths it names."""
    typer.secho(locale_escape(f"✘ {text}"), fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _parse(
    system: List[str], sets: List[str], override: List[str], baseline: str = "", control: str = "", best_of: List[str] = ()
):
    try:
        systems = parse_systems(system, sets)
        overrides = parse_pairs(override, "--override")
        best_of_rows = parse_best_of(list(best_of), systems)
    except OptionError as err:
        fail(str(err))
    for role, name in (("--baseline", baseline), ("--control", control)):
        if name and name not in systems and name not in best_of_rows:
            fail(f"{role} {name} is not one of the systems {sorted(systems)} or a --best-of row")
    return systems, overrides, best_of_rows


def _bench_command() -> str:
    """This command line, as the runs it trains record it."""
    return shlex.join(["python", "-m", "bench", *sys.argv[1:]])


def _run(sweep: Sweep, cells, report: Report, train_missing: bool):
    """The sweep's runs, or a one-line error for a mistake the user can fix."""
    try:
        return sweep.run(cells, report, train_missing=train_missing)
    except CoverTooLargeError as err:
        fail(f"{sweep.data.train}: {err}")
    except (FileNotFoundError, SplitMismatchError) as err:
        fail(str(err))


def _numbers(text: str, kind: type, what: str) -> list:
    try:
        return parse_numbers(text, kind, what)
    except OptionError as err:
        fail(str(err))


def _check_counts(count_list: List[int], counts: str, train: Path) -> None:
    """Each count of labeled sentences must be one that train can give."""
    n_docs = len(DocBin().from_disk(train))
    if not count_list or any(not 1 <= count <= n_docs for count in count_list):
        fail(f"--counts must be whole numbers from 1 to {n_docs} (the sentences of {train}), got {counts!r}")


def _use_threads(threads: int) -> None:
    if threads:
        # Inherited by the `spacy train` subprocesses; torch's small per-token ops slow down
        # badly when its threads compete for the cores.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


def _use_gpu(gpu_id: int) -> None:
    if gpu_id >= 0:
        # Training runs in `spacy train` subprocesses on the GPU; scoring, pseudo-labelling and
        # timing run in this process, on the same device.
        spacy.require_gpu(gpu_id)


@app.command("benchmark")
def benchmark_command(
    output: Path = typer.Argument(..., help="Folder for runs/, results.json and results.md."),
    system: List[str] = SYSTEM_OPTION,
    sets: List[str] = SET_OPTION,
    train: Path = typer.Option(..., help="Training DocBin.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    test: Path = TEST_OPTION,
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds; every system runs every seed."),
    baseline: str = typer.Option("", help="System the others are compared with (paired F1, speed)."),
    best_of: List[str] = BEST_OF_OPTION,
    dedup_test: bool = DEDUP_TEST_OPTION,
    override: List[str] = OVERRIDE_OPTION,
    report_only: bool = REPORT_ONLY_OPTION,
    gpu_id: int = GPU_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """Train each system with each seed (model chosen on dev), score it on test, measure the inference speed of all models in one process, and write a table of mean ± std with paired differences from the baseline.

    Finished runs (runs/NAME-seedK/result.json) are skipped, so an interrupted sweep resumes; on a fresh clone the runs that OUTPUT/results.json records count as finished. A run that another sweep into OUTPUT is training is skipped too, so the same command started twice trains different runs side by side. The reports, rewritten after each run, keep every run finished in OUTPUT, the systems not listed too. With --report-only nothing is trained or timed.
    """
    systems, overrides, best_of_rows = _parse(system, sets, override, baseline, best_of=best_of)
    seed_list = _numbers(seeds, int, "--seeds")
    _use_threads(threads)
    _use_gpu(gpu_id)
    sweep = Sweep(
        systems, output, SweepData(train, dev, test, dedup_test=dedup_test), overrides,
        gpu_id=gpu_id, bench_command=_bench_command(), log=msg.text,
    )
    cells = plan(list(systems), seed_list)
    report = BenchmarkReport(baseline or None, best_of=best_of_rows)
    results = _run(sweep, cells, report, train_missing=not report_only)
    if not report_only:
        sweep.measure_speed(cells)
        results = sweep.finished()
        write_reports(results, output, report)
    msg.good(f"Wrote {output / 'results.json'} and {output / 'results.md'}")
    print(benchmark_table(report.rows(results), baseline or None))


@app.command("ratios")
def ratios_command(
    output: Path = typer.Argument(..., help="Folder for splits/, runs/, results.json, results.md and f1_by_ratio.png."),
    system: List[str] = SYSTEM_OPTION,
    sets: List[str] = SET_OPTION,
    train: Path = typer.Option(..., help="Labeled training DocBin that the splits are drawn from.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    test: Path = TEST_OPTION,
    extra_unlabeled: Optional[Path] = typer.Option(
        None, help="DocBin of more unlabeled text, added to every split's unlabeled part.", exists=True, dir_okay=False
    ),
    unlabeled_pool: str = typer.Option(
        "all", help="The unlabeled part of each split: all (the rest of train, plus --extra-unlabeled) or no-dev-test (that "
        "without the docs whose text is a dev or test text; splits/rRATIO-seedK-no-dev-test). Runs record which: a folder "
        "holds runs of one pool."
    ),
    ratios: str = typer.Option("", help=f"Comma-separated labeled ratios of train (default {DEFAULT_RATIOS})."),
    counts: str = typer.Option(
        "", help="Comma-separated counts of labeled sentences of train, instead of --ratios (e.g. 10,100: DATNet's target "
        "sentences; splits/nCOUNT-seedK, runs/nCOUNT). Every entity type is labeled where the count allows; each split's "
        "record (split.json, and each run's in results.json) lists the types it labeled and those it lacks."
    ),
    seeds: str = typer.Option("0,1,2,3,4", help="Comma-separated seeds: each draws its own split, shared by all systems."),
    baseline: str = typer.Option("", help="System the others are compared with (paired differences, training cost)."),
    control: str = typer.Option("", help="The reader control: same batches, supervised loss only; methods are compared with it too."),
    self_train: List[str] = typer.Option(
        [], "--self-train", help="NAME=TEACHER[:THRESHOLD[:OUTSIDE[:SELECTION]]], repeated: system NAME trains on its split's "
        "labeled docs plus the unlabeled docs that system TEACHER (listed before it) tags with at least THRESHOLD confidence "
        "(default 0.9), the tokens outside its entities O or missing (default O), whole sure docs or the sure tokens of every "
        "doc (SELECTION doc or token, default doc); see `python -m spacy_lowner pseudo-label`."
    ),
    kl_phase: List[str] = typer.Option(
        [], "--kl-phase", help="NAME=BASE:TERM[:OPTION...], repeated: system NAME continues system BASE's model-best (BASE "
        "listed before it) on the same split with `python -m spacy_lowner kl-phase --term TERM` (prior or confidence): the "
        "split's labeled docs, its unlabeled docs (at ratio 1.0 the training text itself) and dev, the run's seed, the encoder "
        "frozen. OPTIONs: pairs=N (default the paper's: 40 prior, 80 confidence), off (the control: the same supervised "
        "steps, no KL step), stop-gradient, train-encoder. Each is reported against its control (the off system with the "
        "same base and pairs) and its base."
    ),
    best_of: List[str] = BEST_OF_OPTION,
    compare: List[str] = typer.Option(
        [], "--compare", help="NAME=OTHER[,OTHER...], repeated: a table of NAME's paired differences from each OTHER "
        "(systems or --best-of rows with runs in OUTPUT), besides the baseline and the control: a method against its "
        "compute-matched baselines."
    ),
    dedup_test: bool = DEDUP_TEST_OPTION,
    retrain_unscored: bool = RETRAIN_UNSCORED_OPTION,
    override: List[str] = OVERRIDE_OPTION,
    cost_batches: int = typer.Option(
        20, help="Batches to time each system's update on (the same batches for all, ratio 0.1 split of the first seed); 0: skip."
    ),
    title: str = typer.Option("", help="Title of the plot."),
    report_only: bool = REPORT_ONLY_OPTION,
    gpu_id: int = GPU_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """Draw a low-resource split per ratio (or per count of sentences, --counts) and seed (every entity type labeled at least once, the rest of train as unlabeled text), train every system on it, and score on test.

    The tables give each system's test F1 (mean ± std over seeds) and its paired difference from the baseline and the reader control, with a 95% interval and wins/losses, plus where each run's best dev checkpoint was. Finished runs are skipped, so an interrupted sweep resumes (on a fresh clone, the runs that OUTPUT/results.json records count as finished); a run that another sweep into OUTPUT is training is skipped too, so the same command started twice (or split by --seeds) trains different runs side by side; the reports cover every run finished in OUTPUT, so sweeps over other ratios or systems into the same folder add to them. Then times one update of each system on the same batches (cost.json).
    """
    try:  # checked now, not at the plot after the first run has trained
        import matplotlib  # noqa: F401
    except ImportError:
        fail("The ratio benchmark draws its plot with matplotlib, which is not installed: pip install 'spacy-lowner[benchmark]'")
    systems, overrides, best_of_rows = _parse(system, sets, override, baseline, control, best_of)
    try:
        parse_self_training(self_train, systems)
        parse_kl_phase(kl_phase, systems)
        comparisons = parse_comparisons(compare)
    except OptionError as err:
        fail(str(err))
    if unlabeled_pool not in UNLABELED_POOLS:
        fail(f"--unlabeled-pool must be one of {', '.join(UNLABELED_POOLS)}, got {unlabeled_pool!r}")
    if ratios and counts:
        fail("Give --ratios or --counts, not both: a folder's splits are all of one kind")
    ratio_list = [] if counts else _numbers(ratios or DEFAULT_RATIOS, float, "--ratios")
    if not counts and (not ratio_list or any(not 0 < r <= 1 for r in ratio_list)):
        fail(f"--ratios must be in (0, 1], got {ratios!r}")
    count_list = _numbers(counts, int, "--counts")
    if counts:
        _check_counts(count_list, counts, train)
    seed_list = _numbers(seeds, int, "--seeds")
    _use_threads(threads)
    _use_gpu(gpu_id)
    if retrain_unscored and (report_only or not dedup_test):
        fail("--retrain-unscored trains runs again for the scores of --dedup-test: give --dedup-test too, and not --report-only")
    data = SweepData(train, dev, test, extra_unlabeled, unlabeled_pool, dedup_test, retrain_unscored)
    sweep = Sweep(systems, output, data, overrides, gpu_id=gpu_id, bench_command=_bench_command(), log=msg.text)
    report = RatioReport(baseline or None, control or None, title, best_of_rows, kl_phase_comparisons(systems), comparisons)
    results = _run(sweep, plan(list(systems), seed_list, ratio_list, count_list), report, train_missing=not report_only)
    msg.good(f"Wrote {output / 'results.json'}, {output / 'results.md'} and {output / 'f1_by_ratio.png'}")
    print(ratio_table(report.rows(results), baseline or None, control or None))
    trained = {name: found for name, found in systems.items() if not found.kl_phase}  # a kl-phase has no config to time
    if cost_batches and baseline and len(trained) > 1:
        cost = _measure_cost(
            trained, report.trained(baseline), data, output, seed_list[0], ratio_list, overrides, cost_batches, count_list
        )
        write_reports(sweep.finished(), output, report)
        print(cost_table(cost))


def _measure_cost(
    systems: Dict[str, System], baseline: str, data: SweepData, output: Path, seed: int, ratios: List[float],
    overrides: Dict[str, str], batches: int, counts: Sequence[int] = (),
) -> Dict:
    """Time one update of each system on the same batches of one split (ratio 0.1, else the
    smallest ratio swept; the largest count of a count sweep), relative to the baseline, into
    cost.json."""
    if counts:
        split = data.split(output, None, seed, max(counts))
    else:
        split = data.split(output, 0.1 if 0.1 in ratios else min(ratios), seed)
    cost_overrides = {"paths.train": str(split.labeled), "paths.unlabeled": str(split.unlabeled), "paths.dev": str(data.dev), **overrides}
    corpus_system = next(name for name in systems if name != baseline)
    seconds = measure_training_cost(
        systems, corpus_system, cost_overrides, output, batches=batches, batch_size=COST_BATCH_SIZE, log=msg.text
    )
    return save_training_cost(output, seconds, baseline, split.labeled.parent.name, batches, COST_BATCH_SIZE)


@app.command("checkpoints")
def checkpoints_command(
    output: Path = typer.Argument(..., help="A benchmark or ratio-sweep folder: each run under its runs/ holds result.json, model-best and model-last.", exists=True, file_okay=False),
    test: Path = TEST_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """Score model-last of each finished run on test beside model-best, the checkpoint dev picked, and write the paired difference per system and over all runs (checkpoints.json, checkpoints.md): on a small dev set, does choosing on dev help on test?

    Runs scored before (OUTPUT/checkpoints.json) are kept; runs without model-last (restored from results.json on a fresh clone, or trained elsewhere) are skipped.
    """
    _use_threads(threads)
    rows = score_last_checkpoints(output, test, log=msg.text)
    if not rows:
        fail(f"No run under {output / 'runs'} has both result.json and model-last: nothing to compare")
    msg.good(f"Wrote {output / 'checkpoints.json'} and {output / 'checkpoints.md'}")
    print(checkpoint_table(rows))


@app.command("cost")
def cost_command(
    output: Path = typer.Argument(..., help="Folder for cost.json (and composed configs)."),
    system: List[str] = SYSTEM_OPTION,
    sets: List[str] = SET_OPTION,
    train: Path = typer.Option(..., help="Training DocBin whose first batches every system is timed on.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    unlabeled: Optional[Path] = typer.Option(None, help="Unlabeled text for the systems that read it.", exists=True, dir_okay=False),
    baseline: str = typer.Option(..., help="System the others' cost is relative to."),
    batches: int = typer.Option(20, help="Batches to time (after one warm-up batch)."),
    batch_size: int = typer.Option(COST_BATCH_SIZE, help="Docs per batch."),
    override: List[str] = OVERRIDE_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """Time one training update of each system on the same batches, in one process, the systems in alternation (the ratio to the baseline is what to read; times depend on what else runs on the machine)."""
    systems, overrides, _ = _parse(system, sets, override, baseline)
    _use_threads(threads)
    paths = {"paths.train": str(train), "paths.dev": str(dev), **({"paths.unlabeled": str(unlabeled)} if unlabeled else {})}
    seconds = measure_training_cost(
        systems, baseline, {**paths, **overrides}, output, batches=batches, batch_size=batch_size, log=msg.text
    )
    output.mkdir(parents=True, exist_ok=True)
    print(cost_table(save_training_cost(output, seconds, baseline, train.name, batches, batch_size)))


@app.command("gradients")
def gradients_command(
    config: str = typer.Argument(..., help="Training config, or BASE+PART+... composed as by `config compose`."),
    output: Path = typer.Argument(..., help="JSON file for the per-step gradient norms."),
    train: Path = typer.Option(..., help="Labeled training DocBin; a split of it is drawn with --ratio.", exists=True, dir_okay=False),
    dev: Path = DEV_OPTION,
    ratio: float = typer.Option(0.05, help="Labeled ratio of the split to train on (the rest is the unlabeled text)."),
    seed: int = typer.Option(0, help="Seed of the split and of the run."),
    steps: int = typer.Option(50, help="Training steps to measure."),
    override: List[str] = OVERRIDE_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """Measure how strongly each loss term reaches the encoder: the norm of its gradient at the tok2vec output over the first STEPS updates of a real run, and its ratio to the supervised term's.
    """
    try:
        overrides = parse_pairs(override, "--override")
        # a composed config is kept beside the output, named after it
        system = parse_systems([f"{output.stem}={config}"])[output.stem]
    except OptionError as err:
        fail(str(err))
    _use_threads(threads)
    split = make_split(train, ratio, seed, split_folder(output.parent, ratio, seed))
    run_overrides: Dict[str, str] = {
        "paths.train": str(split.labeled), "paths.unlabeled": str(split.unlabeled), "paths.dev": str(dev),
        "system.seed": str(seed), **overrides,
    }
    per_step = term_gradients(system, run_overrides, output.parent, steps=steps, log=msg.text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"config": str(config), "ratio": ratio, "seed": seed, "overrides": overrides, "steps": per_step}, indent=2))
    msg.good(f"Wrote {output}")
    print(gradient_table(per_step))


@app.command("language-probe")
def language_probe_command(
    pipelines: List[Path] = typer.Argument(..., help="Trained pipeline folders with a lowner_ner component.", exists=True, file_okay=False),
    output: Path = typer.Option(..., "--output", help="JSON file for the figures of every pipeline."),
    source: Path = typer.Option(..., help="The source language's DocBin (its docs get the source domain, as in training).", exists=True, dir_okay=False),
    target: Path = typer.Option(..., help="The target language's DocBin.", exists=True, dir_okay=False),
    docs: int = typer.Option(200, help="Docs read from each DocBin (the first ones)."),
    module: str = typer.Option("map", help="The head module that maps the source's docs (spacy_lowner.domain_map.v1)."),
    source_domain: str = typer.Option("source", help="The domain of the source's docs, the map's."),
    threads: int = THREADS_OPTION,
) -> None:
    """Measure whether each pipeline's token vectors still tell the two languages apart, as they reach the head and after its source-language map: the map's distance from the identity, a linear probe's held-out accuracy, the same probe on unit-length vectors (their directions alone), a threshold on the norm (which no rotation changes) and the cosine of the languages' mean vectors.
    """
    if docs < 1:
        fail(f"--docs must be at least 1, not {docs}")
    _use_threads(threads)
    try:
        probes = [probe_languages(pipeline, source, target, docs, module, source_domain) for pipeline in pipelines]
    except (KeyError, ValueError, OSError) as err:
        fail(str(err))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(probes_json(probes), indent=2))
    msg.good(f"Wrote {output}")
    print(probe_table(probes))


@app.command("long-doc")
def long_doc_command(
    pipelines: List[Path] = typer.Argument(..., help="Trained pipeline folders.", exists=True, file_okay=False),
    text: Path = typer.Option(..., help="The text the doc is made of, repeated: a .txt, .jsonl or .spacy file.", exists=True, dir_okay=False),
    chars: int = typer.Option(1_000_000, help="Characters of the doc (1,000,000: spaCy's default max_length)."),
    threads: int = THREADS_OPTION,
) -> None:
    """Measure the peak memory and the time of one doc of CHARS characters through each pipeline, each in a process of its own.
    """
    if chars < 1:
        fail(f"--chars must be at least 1, not {chars}")
    _use_threads(threads)
    try:
        doc_text = long_text(read_text(text), chars)
    except (ValueError, OSError) as err:
        fail(str(err))
    print(long_doc_table([measure_long_doc(pipeline, doc_text) for pipeline in pipelines]))


@app.command("advpicker")
def advpicker_command(
    output: Path = typer.Argument(..., help="Folder for source_dev/ and target_dev/: runs/, picked/, results.json, results.md."),
    encoder: str = typer.Option(..., help="paths.encoder: a multilingual encoder whose vocabulary covers both languages."),
    source_train: Path = typer.Option(Path("corpus/conll2003/train.spacy"), help="Labeled source-language train DocBin.", exists=True, dir_okay=False),
    source_dev: Path = typer.Option(Path("corpus/conll2003/dev.spacy"), help="Source dev DocBin (the source selection).", exists=True, dir_okay=False),
    target_train: Path = typer.Option(
        Path("corpus/conll2002_es/train.spacy"), help="Target-language train DocBin: its text is the unlabeled target text; its "
        "gold labels score the pseudo labels.", exists=True, dir_okay=False,
    ),
    target_dev: Path = typer.Option(Path("corpus/conll2002_es/dev.spacy"), help="Target dev DocBin (the target selection).", exists=True, dir_okay=False),
    test: Path = typer.Option(Path("corpus/conll2002_es/test.spacy"), help="Target test DocBin (reported scores).", exists=True, dir_okay=False),
    lang: str = typer.Option("es", help="nlp.lang of every pipeline: the tokenizer of the target text given at prediction."),
    seeds: str = typer.Option("0,1,2", help="Comma-separated seeds; every system runs every seed, one picked set from all their teachers."),
    teacher_seeds: str = typer.Option(
        "", help="Comma-separated seeds whose teachers pick (default --seeds): with --seeds K, one process per seed shares "
        "one picked set (the first to reach the pick writes it)."
    ),
    selections: str = typer.Option("source,target", help="Dev selections, each a set of runs of its own: source (zero-shot) and/or target (the paper's)."),
    systems: str = typer.Option(",".join(SYSTEMS), help="Comma-separated systems to run (students need the teacher)."),
    rho: float = typer.Option(0.8, help="The share of the target sentences `pick` keeps."),
    limit: int = typer.Option(0, help="Cut every corpus to its first LIMIT docs (OUTPUT/corpora; a smoke run). 0: all."),
    supervised_config: Path = typer.Option(Path("configs/conll_trf.cfg"), help="source_only's and self_train_all's config.", exists=True, dir_okay=False),
    teacher_config: Path = typer.Option(Path("configs/conll_trf_language_adversarial.cfg"), help="The teacher's (and control's) config.", exists=True, dir_okay=False),
    student_config: Path = typer.Option(Path("configs/conll_trf_distillation.cfg"), help="The students' config.", exists=True, dir_okay=False),
    override: List[str] = OVERRIDE_OPTION,
    report_only: bool = REPORT_ONLY_OPTION,
    gpu_id: int = GPU_OPTION,
    threads: int = THREADS_OPTION,
) -> None:
    """AdvPicker's zero-shot cross-lingual workflow, paired over seeds: source_only, the teacher (language_adversarial) and its reader control per seed; one picked set from every seed's teacher (pick, rho) and the same teachers' labels on all target text; then per seed the students (distillation of the picked set, of all of it) and self-training on the hard labels of all of it. Each scored on the target test set, in one folder per dev selection.

    Finished runs and picked sets are skipped, so an interrupted run resumes. results.md of each selection has the systems, the paired comparisons (teacher − source_only, teacher − control, student_picked − teacher / student_all / self_train_all / source_only), the picked set (its size, each teacher's share, the pseudo labels' F1 on picked and left-out sentences) and where the best checkpoints were.
    """
    system_list = [name.strip() for name in systems.split(",") if name.strip()]
    selection_list = [name.strip() for name in selections.split(",") if name.strip()]
    try:
        check_systems(system_list)
        overrides = {"paths.encoder": encoder, "nlp.lang": lang, **parse_pairs(override, "--override")}
    except (ValueError, OptionError) as err:
        fail(str(err))
    if not selection_list or any(name not in SELECTIONS for name in selection_list):
        fail(f"--selections must be source, target or both, got {selections!r}")
    if not 0 < rho <= 1 or limit < 0:
        fail(f"--rho must be in (0, 1] and --limit at least 0, got {rho} and {limit}")
    seed_list = _numbers(seeds, int, "--seeds")
    _use_threads(threads)
    _use_gpu(gpu_id)
    data = AdvPickerData(source_train, source_dev, target_train, target_dev, test)
    if limit:
        data = data.limited(output / "corpora", limit)
    workflow = AdvPicker(
        output, data, AdvPickerConfigs(supervised_config, teacher_config, student_config), seed_list, overrides,
        system_list, rho, gpu_id, _bench_command(), msg.text, _numbers(teacher_seeds, int, "--teacher-seeds") or None,
    )
    for selection in selection_list:
        try:
            results = workflow.run(selection, train_missing=not report_only)
        except (FileNotFoundError, PickedSetError, SplitMismatchError) as err:
            fail(str(err))
        msg.good(f"Wrote {output / f'{selection}_dev' / 'results.md'}")
        print(comparison_table(results))
