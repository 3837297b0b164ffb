"""The one sweep driver of `bench benchmark` and `bench ratios`: a plan of cells (ratio or None,
seed, system), a folder per cell, and one report writer (bench/reports.py).

A cell with a ratio trains on that ratio's split of train for its seed (bench/ratios.py),
shared by every system; a cell without one trains on all of train. Each system trains with
`spacy train` (model chosen on dev) and is scored on test. Runs are resumable, and the
reports are rewritten after every run from all the runs finished in the output folder, so a
sweep cut short still reports what it has, and sweeps over other ratios or systems (or
running beside it) add rows.
"""
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .claims import RunClaimedError, claim
from .kl_phase import continue_and_score
from .ratios import Split, make_split, split_folder
from .reports import Report, write_reports
from .runs import RunResult, evaluate_model, in_report_order, read_result, restore_recorded_runs, train_and_score, write_result
from .self_training import keep_teachers_result, self_training_data, written_before
from .speed import measure_speed
from .systems import System


class SplitMismatchError(ValueError):
    """A finished run in the output folder was trained on another split than the sweep draws."""


@dataclass(frozen=True)
class Cell:
    """One run of a plan."""

    ratio: Optional[float]  # the labeled ratio of the split; None: all of train (or a count)
    seed: int  # the split's seed and the run's system.seed (unless the system sets its own)
    system: str
    count: Optional[int] = None  # the labeled sentences of the split, instead of a ratio

    @property
    def label(self) -> str:
        """How the log names the run."""
        if self.count is not None:
            return f"{self.count} sentences seed {self.seed} {self.system}"
        if self.ratio is None:
            return f"{self.system} seed {self.seed}"
        return f"ratio {self.ratio} seed {self.seed} {self.system}"


def plan(
    systems: Sequence[str], seeds: Sequence[int], ratios: Sequence[Optional[float]] = (None,), counts: Sequence[int] = ()
) -> List[Cell]:
    """Every system on every (ratio, seed), or with counts every (count, seed), ratio- or
    count-major and seed by seed: an interrupted sweep still compares every system on the
    seeds it finished."""
    if counts:
        return [Cell(None, seed, system, count) for count in counts for seed in seeds for system in systems]
    return [Cell(ratio, seed, system) for ratio in ratios for seed in seeds for system in systems]


def run_folder(output: Path, ratio: Optional[float], system: str, seed: int, count: Optional[int] = None) -> Path:
    """runs/NAME-seedK for a full-data run, runs/rRATIO/NAME-seedK for a ratio run,
    runs/nCOUNT/NAME-seedK for a count run."""
    runs = output / "runs"
    if count is not None:
        runs = runs / f"n{count}"
    return (runs if ratio is None else runs / f"r{ratio}") / f"{system}-seed{seed}"


def finished_runs(output: Path, systems: Sequence[str]) -> List[RunResult]:
    """Every run finished under output/runs (either layout), whichever sweep trained it; the
    given systems first, in their order."""
    results = [read_result(path) for path in output.glob("runs/*/result.json")]
    for result_file in output.glob("runs/r*/*/result.json"):
        result = read_result(result_file)
        result.ratio = float(result_file.parent.parent.name[1:])  # runs/r{ratio}/{system}-seed{seed}
        results.append(result)
    for result_file in output.glob("runs/n*/*/result.json"):
        result = read_result(result_file)
        result.count = int(result_file.parent.parent.name[1:])  # runs/n{count}/{system}-seed{seed}
        results.append(result)
    return in_report_order(results, systems)


@dataclass(frozen=True)
class SweepData:
    """The corpora of a sweep and how its splits and scores use them."""

    train: Path
    dev: Path
    test: Path
    extra_unlabeled: Optional[Path] = None  # more unlabeled text for every ratio split
    unlabeled_pool: str = "all"  # bench/ratios.py UNLABELED_POOLS
    dedup_test: bool = False  # score on test without the sentences train holds too (_dedup)
    # With dedup_test: a finished run without the _dedup scores and without its model (restored
    # from results.json) is trained again, its new result replacing the recorded one.
    retrain_unscored: bool = False

    @cached_property
    def train_texts(self) -> FrozenSet[str]:
        """The texts whose repeats in test the _dedup scores leave out; none without dedup_test."""
        return frozenset(doc.text for doc in DocBin().from_disk(self.train).get_docs(Vocab())) if self.dedup_test else frozenset()

    def split(self, output: Path, ratio: Optional[float], seed: int, count: Optional[int] = None) -> Split:
        """The training data of a cell: all of train, or the ratio's (the count's) split for the seed."""
        if ratio is None and count is None:
            return Split(self.train)
        leave_out = (self.dev, self.test) if self.unlabeled_pool == "no-dev-test" else ()
        folder = split_folder(output, ratio, seed, self.unlabeled_pool, count)
        return make_split(self.train, ratio, seed, folder, self.extra_unlabeled, leave_out, count)


@dataclass
class Sweep:
    """What every cell of a plan shares: the systems, the data, the output folder, the
    overrides common to all runs."""

    systems: Dict[str, System]
    output: Path
    data: SweepData
    overrides: Dict[str, str]
    gpu_id: int = -1
    bench_command: Optional[str] = None  # recorded with each run it trains
    log: Callable = print

    def run(self, cells: Sequence[Cell], report: Report, train_missing: bool = True) -> List[RunResult]:
        """Train the cells' missing runs (train_missing=False: none, the cells not finished are
        left out) and return every run finished in output, other sweeps' too, as reported."""
        restore_recorded_runs(self.output, lambda r: run_folder(self.output, r.ratio, r.system, r.seed, r.count), self.log)
        _check_one_size_kind(self.output, self.finished(), cells)
        for i, cell in enumerate(cells):
            prefix = f"[{i + 1}/{len(cells)}] {cell.label}"
            self.log(f"{prefix}: {self.systems[cell.system].spec}")
            if not train_missing and not (self._folder(cell) / "result.json").exists():
                self.log(f"{prefix}: not run yet, left out")
                continue
            try:
                new = self.train_cell(cell, prefix)
            except RunClaimedError as claimed:
                self.log(f"{prefix}: skipped, {claimed} (if that sweep does not train this run, run this one again after it)")
                continue
            if new:
                # results.json is all that a fresh clone keeps of a run (runs/ is not committed):
                # written after each new run, a sweep stopped midway loses none of those it finished
                write_reports(self.finished(), self.output, report)
        results = self.finished()
        write_reports(results, self.output, report)
        return results

    def finished(self) -> List[RunResult]:
        return finished_runs(self.output, list(self.systems))

    def train_cell(self, cell: Cell, prefix: str) -> bool:
        """Train one cell's run, or read its finished result; log its test F1 and say whether
        it is new. A self-training system first needs its teacher's model-best; a teacher
        run restored from results.json has none, so unless the student's training set was
        written before, the teacher is trained again (and its own teacher before it, if need
        be), its new result replacing the recorded one, since that is the model that teaches.
        A kl-phase system continues its base's model-best, which is trained again alike."""
        run_dir = self._folder(cell)
        # held from the first look at result.json to the last write: a sweep beside this one
        # finds the run either finished or claimed, never half-trained
        with claim(run_dir):
            return self._train_claimed(cell, run_dir, prefix)

    def _train_claimed(self, cell: Cell, run_dir: Path, prefix: str) -> bool:
        system = self.systems[cell.system]
        split = self.data.split(self.output, cell.ratio, cell.seed, cell.count)
        recorded = self._unscored_without_model(run_dir)
        if recorded:
            _check_split(recorded, split, run_dir)  # trained again on the split it was trained on, or not at all
            self.log(f"{prefix}: recorded without the scores on test less its repeats of train, its model gone: training it again")
            (run_dir / "result.json").unlink()
        settings = self._settings(split)
        stand_in = False  # the teacher's own result, written here for a teacher sure of no doc
        if system.self_training and not (run_dir / "result.json").exists():
            settings["paths.train"], stand_in = self._self_training_data(cell, split, prefix)
        if system.kl_phase and not (run_dir / "result.json").exists():
            result, trained = self._continue(cell, split, prefix), True
        else:
            # A finished run's config is not composed again: a report rewritten from its runs writes no config.
            config = system.config if (run_dir / "result.json").exists() else system.config_file(self.output)
            result, trained = train_and_score(
                system.name, cell.seed, config, run_dir, self.data.test, {**settings, **system.overrides},
                self.gpu_id, self.log, train_texts=self.data.train_texts, split=split.record, bench_command=self.bench_command,
            )
        _check_split(result, split, run_dir)
        rescored = not trained and self._score_dedup(result, run_dir)
        new = trained or stand_in or rescored  # new in this sweep either way: the reports are rewritten
        self.log(f"{prefix}: test F1 {100 * (result.test.get('ents_f') or 0.0):.2f}" + ("" if new else " (done before)"))
        if recorded:
            # the runs trained from this one's model (self-training students, kl-phase
            # continuations) are only still its own if training it again reproduced it
            self.log(f"{prefix}: recorded test F1 {100 * (recorded.test.get('ents_f') or 0.0):.2f}, trained again "
                     f"{100 * (result.test.get('ents_f') or 0.0):.2f}")
        return new

    def _folder(self, cell: Cell) -> Path:
        return run_folder(self.output, cell.ratio, cell.system, cell.seed, cell.count)

    def _settings(self, split: Split) -> Dict[str, str]:
        paths = {"paths.train": str(split.labeled)}
        if split.unlabeled:
            paths["paths.unlabeled"] = str(split.unlabeled)
        return {**paths, "paths.dev": str(self.data.dev), **self.overrides}

    def _self_training_data(self, cell: Cell, split: Split, prefix: str) -> Tuple[str, bool]:
        """The training folder of a self-training cell (its split's labeled docs and its
        teacher's sure ones), and whether the teacher was sure of none: then the teacher's
        result stands for the cell's, as `spacy_lowner train` ends with the teacher."""
        name, teacher = cell.system, self.systems[cell.system].self_training.teacher
        teacher_cell = replace(cell, system=teacher)
        teacher_run = self._folder(teacher_cell)
        folder = self.output / "self_training" / split.labeled.parent.name / name
        if not written_before(folder):
            self.with_model(teacher_cell, prefix)
        data, kept = self_training_data(self.systems[name], split, teacher_run, folder, self.log)
        if not kept:
            self.log(f"{prefix}: {teacher} is sure of no unlabeled doc: its result stands")
            keep_teachers_result(name, teacher_run, self._folder(cell))
        return str(data), not kept

    def with_model(self, cell: Cell, prefix: str) -> Path:
        """The run folder of `cell`, whose model-best a later system reads (a teacher, a
        kl-phase base), trained here if it has no model-best: not trained yet, or restored
        from results.json without its model (then its new result replaces the recorded one)."""
        run_dir = self._folder(cell)
        with claim(run_dir):  # a sweep beside this one is training it: RunClaimedError, the later system is skipped
            if not (run_dir / "model-best").is_dir():
                if (run_dir / "result.json").exists():
                    self.log(f"{prefix}: {cell.system}'s run was restored from results.json without its model: training it again")
                    (run_dir / "result.json").unlink()
                self._train_claimed(cell, run_dir, f"{prefix} <- {cell.system}")
        return run_dir

    def _continue(self, cell: Cell, split: Split, prefix: str) -> RunResult:
        """Run and score a kl-phase cell: its system continues its base's model-best on the
        same split (bench/kl_phase.py)."""
        system = self.systems[cell.system]
        base_run = self.with_model(replace(cell, system=system.kl_phase.base), prefix)
        return continue_and_score(
            system, cell.seed, base_run, self._folder(cell), split, self.data.dev, self.data.test, self.gpu_id, self.log,
            train_texts=self.data.train_texts, bench_command=self.bench_command,
        )

    def _unscored_without_model(self, run_dir: Path) -> Optional[RunResult]:
        """The recorded result of a run that `retrain_unscored` trains again, else None."""
        result_file = run_dir / "result.json"
        if not (self.data.dedup_test and self.data.retrain_unscored and result_file.exists()):
            return None
        result = read_result(result_file)
        return None if "ents_f_dedup" in result.test or (run_dir / "model-best").is_dir() else result

    def _score_dedup(self, result: RunResult, run_dir: Path) -> bool:
        """Add the _dedup scores to a run finished before they were asked for, if its model is
        here; say whether it was scored."""
        model = run_dir / "model-best"
        if not self.data.dedup_test or "ents_f_dedup" in result.test or not model.is_dir():
            return False
        scores = evaluate_model(model, self.data.test, self.data.train_texts)
        result.test.update({key: value for key, value in scores.items() if key.endswith("_dedup")})
        write_result(result, run_dir / "result.json")
        return True

    def measure_speed(self, cells: Sequence[Cell]) -> None:
        """Time the cells' models in one process, alternating (bench/speed.py), and record each
        one's words/s in its result.json; a run restored without its model keeps the speed
        recorded."""
        runs = {cell: self._folder(cell) for cell in cells if (self._folder(cell) / "result.json").exists()}
        models = {cell.label: run_dir / "model-best" for cell, run_dir in runs.items() if (run_dir / "model-best").is_dir()}
        if len(models) < len(runs):
            self.log(f"{len(runs) - len(models)} runs have no model (restored from results.json): their speed is the one recorded")
        self.log("Measuring inference speed (the models here, alternating rounds)")
        texts = [doc.text for doc in DocBin().from_disk(self.data.test).get_docs(Vocab())]
        speeds = measure_speed(models, texts)
        for cell, run_dir in runs.items():
            if cell.label in speeds:
                result = read_result(run_dir / "result.json")
                result.words_per_second = speeds[cell.label]
                write_result(result, run_dir / "result.json")


def _check_split(result: RunResult, split: Split, run_dir: Path) -> None:
    """A finished run's recorded split (older records have none) must be the cell's."""
    if result.split and split.record and result.split != split.record:
        raise SplitMismatchError(
            f"{run_dir / 'result.json'} was trained on another split ({result.split}) than this sweep's "
            f"{split.labeled.parent} ({split.record}): sweep into another folder, or remove that run"
        )


def _check_one_size_kind(output: Path, results: List[RunResult], cells: Sequence[Cell]) -> None:
    """A folder's splits are all by ratio or all by count: its tables have one column of split
    sizes, in which a ratio of 1.0 and a count of 1 would read alike."""
    asked = {cell.count is not None for cell in cells if cell.ratio is not None or cell.count is not None}
    found = {result.count is not None for result in results if result.size is not None}
    if len(asked | found) > 1:
        raise SplitMismatchError(
            f"{output} would hold runs on splits by labeled ratio and by sentence count (--ratios, --counts): "
            "sweep each into a folder of its own"
        )
