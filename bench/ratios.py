"""The labeled-ratio benchmark: scores against the fraction of labeled training sentences.

For each ratio and seed, one low-resource split (spacy_lowner.training.sampling: every entity type
present) is drawn and shared by every system; the rest of train, plus any extra unlabeled
text, is the unlabeled part. Each system trains on it with `spacy train` (model chosen on dev)
and is scored on test. Runs are resumable, and the reports are rewritten after every run
from all the runs finished in the output folder, so a sweep cut short still reports what it
has, and sweeps over other ratios or systems (or running beside it) add rows.
"""
import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_lowner.training.sampling import sample_labeled, write_split

from .cost import cost_table
from .plots import plot_ratios
from .runs import RunResult, in_report_order, read_result, restore_recorded_runs, train_and_score, write_record
from .self_training import keep_teachers_result, self_training_data, written_before
from .systems import System
from .tables import budget_table, ratio_table


def make_split(
    train_path: Path, ratio: float, seed: int, folder: Path, extra_unlabeled: Optional[Path] = None
) -> Dict[str, Path]:
    """Write labeled.spacy and unlabeled.spacy for one (ratio, seed) into folder, or reuse
    the ones written before (the sampler is deterministic, so they would be the same). With
    nothing left over (ratio 1.0, no extra text) the unlabeled text is the labeled docs' own
    text: the text a semi-supervised method can use is then the training text itself."""
    paths = {"labeled": folder / "labeled.spacy", "unlabeled": folder / "unlabeled.spacy"}
    if all(path.exists() for path in paths.values()):
        return paths
    vocab = Vocab()
    docs = list(DocBin().from_disk(train_path).get_docs(vocab))
    extra = list(DocBin().from_disk(extra_unlabeled).get_docs(vocab)) if extra_unlabeled else []
    split = sample_labeled(docs, ratio=ratio, seed=seed)
    if not split.unlabeled and not extra:
        extra = [docs[i] for i in split.labeled]
    write_split(docs, split, paths["labeled"], paths["unlabeled"], extra_unlabeled=extra)
    return paths


def run_ratio_sweep(
    systems: Dict[str, System],
    ratios: Sequence[float],
    seeds: Sequence[int],
    output: Path,
    train_path: Path,
    dev_path: Path,
    test_path: Path,
    overrides: Dict[str, str],
    extra_unlabeled: Optional[Path] = None,
    gpu_id: int = -1,
    baseline: Optional[str] = None,
    control: Optional[str] = None,
    title: str = "",
    train_missing: bool = True,
    log: Callable = print,
) -> List[RunResult]:
    """Train the missing runs, ratio-major and seed by seed (an interrupted sweep still
    compares every system on the seeds it finished). train_missing=False trains nothing.
    Reports and returns every run finished in output, including other sweeps'."""
    restore_recorded_runs(output, lambda r: run_folder(output, r.ratio, r.system, r.seed), log)
    total = len(ratios) * len(seeds) * len(systems)
    done = 0
    for ratio in ratios:
        for seed in seeds:
            split = make_split(train_path, ratio, seed, output / "splits" / f"r{ratio}-seed{seed}", extra_unlabeled)
            common = {
                "paths.train": str(split["labeled"]),
                "paths.unlabeled": str(split["unlabeled"]),
                "paths.dev": str(dev_path),
                **overrides,
            }
            for system in systems.values():
                done += 1
                prefix = f"[{done}/{total}] ratio {ratio} seed {seed} {system.name}"
                log(f"{prefix}: {system.spec}")
                run_dir = run_folder(output, ratio, system.name, seed)
                if not train_missing and not (run_dir / "result.json").exists():
                    log(f"{prefix}: not run yet, left out")
                    continue
                trained = train_system(systems, system.name, ratio, seed, split, common, output, test_path, gpu_id, prefix, log)
                if trained:
                    write_reports(finished_runs(output, list(systems)), output, baseline, control, title)
    results = finished_runs(output, list(systems))
    write_reports(results, output, baseline, control, title)
    return results


def train_system(
    systems: Dict[str, System],
    name: str,
    ratio: float,
    seed: int,
    split: Dict[str, Path],
    settings: Dict[str, str],
    output: Path,
    test_path: Path,
    gpu_id: int,
    prefix: str,
    log: Callable = print,
) -> bool:
    """Train one system's run on a split, or read its finished result; log its test F1 and
    say whether it is new. A self-training system first needs its teacher's model-best; a
    teacher run restored from results.json has none, so unless the student's training set
    was written before, the teacher is trained again (and its own teacher before it, if need
    be), its new result replacing the recorded one, since that is the model that teaches."""
    system = systems[name]
    run_dir = run_folder(output, ratio, name, seed)
    settings = dict(settings)
    stand_in = False  # the teacher's own result, written here for a teacher sure of no doc
    if system.self_training and not (run_dir / "result.json").exists():
        teacher = system.self_training.teacher
        teacher_run = run_folder(output, ratio, teacher, seed)
        folder = output / "self_training" / f"r{ratio}-seed{seed}" / name
        restored = (teacher_run / "result.json").exists() and not (teacher_run / "model-best").is_dir()
        if restored and not written_before(folder):
            log(f"{prefix}: {teacher}'s run was restored from results.json without its model: training it again")
            (teacher_run / "result.json").unlink()
            train_system(systems, teacher, ratio, seed, split, settings, output, test_path, gpu_id, f"{prefix} <- {teacher}", log)
        data, kept = self_training_data(system, split, teacher_run, folder, log)
        settings["paths.train"] = str(data)
        if not kept:
            log(f"{prefix}: {teacher} is sure of no unlabeled doc: its result stands")
            keep_teachers_result(name, teacher_run, run_dir)
            stand_in = True
    result, trained = train_and_score(
        name, seed, system.config_file(output), run_dir, test_path, {**settings, **system.overrides}, gpu_id, log
    )
    trained = trained or stand_in  # new in this sweep either way: the reports are rewritten
    log(f"{prefix}: test F1 {100 * result.test.get('ents_f', 0.0):.2f}" + ("" if trained else " (done before)"))
    return trained


def run_folder(output: Path, ratio: float, system: str, seed: int) -> Path:
    return output / "runs" / f"r{ratio}" / f"{system}-seed{seed}"


def finished_runs(output: Path, systems: Sequence[str]) -> List[RunResult]:
    """Every run finished under output/runs, whichever sweep trained it; the given systems
    first, in their order."""
    results = []
    for result_file in output.glob("runs/r*/*/result.json"):
        result = read_result(result_file)
        result.ratio = float(result_file.parent.parent.name[1:])  # runs/r{ratio}/{system}-seed{seed}
        results.append(result)
    return in_report_order(results, systems)


def write_reports(
    results: List[RunResult], output: Path, baseline: Optional[str], control: Optional[str], title: str
) -> None:
    """results.json, results.md (entity F1, token macro F1, where the best checkpoints were,
    and the training cost measured before, if any) and the plot."""
    sections = [
        "Test entity F1 (%): mean ± std over seeds; differences are paired over seeds: mean [95% t-interval] wins/losses.",
        ratio_table(results, baseline, control),
    ]
    if any("tokens_macro_f" in r.test for r in results):
        sections += ["Test token-level macro F1 without O (%), as the KL-regulariser paper reports:",
                     ratio_table(results, baseline, control, metric="tokens_macro_f")]
    sections += ["Best dev checkpoint of each run:", budget_table(results)]
    cost_file = output / "cost.json"
    if cost_file.exists():
        sections.append(cost_table(json.loads(cost_file.read_text())).rstrip("\n"))
    write_record(results, "\n\n".join(sections) + "\n", output)
    plot_ratios(results, output / "f1_by_ratio.png", title)
