"""`python -m bench advpicker`: AdvPicker's zero-shot cross-lingual workflow (issue 32) as a
paired, resumable benchmark, on the sweep driver (bench/sweep.py) and its report writer.

Per dev selection (`source`: the source language's dev set, what a zero-shot user has, the main
column; `target`: the target's, the paper's), in a folder of its own (OUTPUT/source_dev,
OUTPUT/target_dev) whose runs all choose their checkpoint on that dev set. spaCy keeps one
model-best per run, so the target column is a second set of runs, not a second checkpoint:

1. per seed: `source_only` (supervised on the source, the multilingual encoder), `control` (the
   teacher's reader control: the same mixed batches, `language_adversarial` at weight 0) and
   `teacher` (`language_adversarial`);
2. once, from every seed's teacher (`pick`, in this process): `picked/picked.spacy` (the top rho
   of the target text, each sentence with the soft labels of the teacher surest of it),
   `picked/all.spacy` (all of it, rho 1.0: no picking) and `picked/hard.spacy` (all of it with
   the same teacher's decoded entities: hard pseudo labels), recorded in `pick.json` with
   how many sentences each teacher labelled and the pseudo labels' own F1 against the target
   train set's gold annotation, on the picked and on the left-out sentences;
3. per seed: `student_picked` and `student_all` (`distillation` of picked.spacy, all.spacy) and
   `self_train_all` (supervised on hard.spacy): one data set for every seed, so runs pair.

Every system is scored on the target test set; finished runs and picked sets are skipped.
"""
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_lowner.model.scoring import score_entities
from spacy_lowner.tools.outputs import write_files
from spacy_lowner.training.picking import (
    DEFAULT_RHO, choose_teachers, language_scores, pick, teacher_pass, teacher_tags, top_rho,
)
from spacy_lowner.training.pseudo_labels import find_tagger, pseudo_label

from .plots import plot_systems
from .reports import Report
from .runs import RunResult, in_report_order
from .stats import mean_std, paired_difference
from .sweep import Cell, Sweep, SweepData, plan, run_folder
from .systems import System
from .tables import benchmark_table

SELECTIONS = ("source", "target")
# The systems by stage: the teacher stage's trainings, then the students of the picked sets.
TEACHER_STAGE = ("source_only", "control", "teacher")
STUDENT_STAGE = ("student_picked", "student_all", "self_train_all")
SYSTEMS = TEACHER_STAGE + STUDENT_STAGE
# The systems that learn from the teachers, and the file of picked/ each trains on.
STUDENT_DATA = {"student_picked": "picked.spacy", "student_all": "all.spacy", "self_train_all": "hard.spacy"}
# The paired comparisons of the issue: (system, against).
COMPARISONS = (
    ("teacher", "source_only"),
    ("teacher", "control"),
    ("student_picked", "teacher"),
    ("student_picked", "student_all"),
    ("student_picked", "self_train_all"),
    ("student_picked", "source_only"),
)
PICK_RECORD = "pick.json"
# The link to the model-best of the student_picked run dev picked.
BEST_STUDENT = "best_student"
# Each selection's figure: the systems side by side, a line per seed.
PLOT = "f1_by_system.png"


# The control: the teacher's config with the adversarial term off (the same batches).
CONTROL_OVERRIDE = {"components.lowner_ner.objectives.language_adversarial.weight": "0"}


class PickedSetError(ValueError):
    """OUTPUT holds a picked set that other teachers picked."""


@dataclass(frozen=True)
class AdvPickerData:
    """The corpora: labeled source-language train and dev, target-language train (read as
    unlabeled text; its gold labels score the pseudo labels), dev and test."""

    source_train: Path
    source_dev: Path
    target_train: Path
    target_dev: Path
    test: Path

    def dev(self, selection: str) -> Path:
        return self.source_dev if selection == "source" else self.target_dev

    def limited(self, folder: Path, limit: int) -> "AdvPickerData":
        """The same corpora cut to their first `limit` docs (a smoke run), written to
        folder/nLIMIT once."""
        paths = {}
        for name, path in asdict(self).items():
            paths[name] = folder / f"n{limit}" / f"{name}.spacy"
            if not paths[name].exists():
                docs = list(DocBin(store_user_data=True).from_disk(path).get_docs(spacy.blank("xx").vocab))[:limit]
                write_files({paths[name]: DocBin(docs=docs, store_user_data=True).to_bytes()})
        return AdvPickerData(**paths)


@dataclass(frozen=True)
class AdvPickerConfigs:
    """The config of each stage: source-only training (also self_train_all's), the teacher
    (and its control), the student."""

    supervised: Path = Path("configs/conll_trf.cfg")
    teacher: Path = Path("configs/conll_trf_language_adversarial.cfg")
    student: Path = Path("configs/conll_trf_distillation.cfg")


def selection_folder(output: Path, selection: str) -> Path:
    return output / f"{selection}_dev"


def advpicker_systems(
    configs: AdvPickerConfigs, data: AdvPickerData, picked: Path, names: Sequence[str] = SYSTEMS
) -> Dict[str, System]:
    """The systems asked for, in SYSTEMS order, each with the data it trains on (the sweep's
    paths.train is the source train set; paths.dev is the selection's)."""
    teacher_paths = {"paths.source": str(data.source_train), "paths.unlabeled": str(data.target_train)}
    every = {
        "source_only": System("source_only", configs.supervised),
        "control": System("control", configs.teacher, overrides={**teacher_paths, **CONTROL_OVERRIDE}),
        "teacher": System("teacher", configs.teacher, overrides=dict(teacher_paths)),
        "student_picked": System("student_picked", configs.student),
        "student_all": System("student_all", configs.student),
        "self_train_all": System("self_train_all", configs.supervised),
    }
    for name, file_name in STUDENT_DATA.items():
        every[name].overrides["paths.train"] = str(picked / file_name)
    return {name: every[name] for name in SYSTEMS if name in names}


def check_systems(names: Sequence[str]) -> None:
    """ValueError for an unknown system, or a student without the teacher it learns from."""
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems {unknown}: choose from {', '.join(SYSTEMS)}")
    if "teacher" not in names and any(name in STUDENT_STAGE for name in names):
        raise ValueError("the students (student_picked, student_all, self_train_all) learn from the teacher: add teacher")


@dataclass
class AdvPickerReport(Report):
    """A selection's report: the systems (test scores, paired difference from source_only),
    the issue's paired comparisons, the picked set and where the best checkpoints were."""

    selection: str = "source"
    dev: str = ""

    def markdown(self, rows: List[RunResult], output: Path) -> str:
        # the folder's runs in one order and against source_only whichever systems the process
        # that writes the report was given (processes split by seed or stage share the folder)
        rows = in_report_order(rows, SYSTEMS)
        baseline = self.baseline if any(r.system == self.baseline for r in rows) else None
        sections = [
            f"Model selection on {self.selection} dev ({self.dev}); test entity F1 (%) on the target test set, mean ± std "
            "over seeds; differences are paired over seeds: mean [95% t-interval] wins/losses.",
            benchmark_table(rows, baseline),
            "The paired comparisons:",
            comparison_table(rows),
        ]
        record = output / PICK_RECORD
        if record.exists():
            sections += ["The picked set (`pick`, every seed's teacher):", pick_table(json.loads(record.read_text()))]
        sections += ["Best dev checkpoint (step) of each run, by seed: " + best_steps(rows)]
        return "\n\n".join(sections) + "\n"

    def draw(self, rows: List[RunResult], output: Path) -> None:
        plot_systems(rows, SYSTEMS, output / PLOT, f"AdvPicker, model selection on {self.selection} dev")


def best_steps(results: Sequence[RunResult]) -> str:
    """"teacher 0:400 1:300; ...": a best step near the last one means the run had not reached its plateau."""
    systems = dict.fromkeys(r.system for r in results)
    return "; ".join(
        f"{system} " + " ".join(f"{r.seed}:{r.best_step}" for r in results if r.system == system) for system in systems
    ) + "."


def comparison_table(results: Sequence[RunResult], metric: str = "ents_f") -> str:
    """A row per comparison of COMPARISONS: both systems' scores and their paired difference."""
    scores = {name: {r.seed: r.test[metric] for r in results if r.system == name and r.test.get(metric) is not None} for name in SYSTEMS}
    lines = ["| system | against | seeds | system F1 | against F1 | difference [95% CI] w/l |", "|---|---|---|---|---|---|"]
    for system, against in COMPARISONS:
        difference = paired_difference(scores[system], scores[against])
        seeds = sorted(set(scores[system]) & set(scores[against]))
        row = [system, against, ",".join(map(str, seeds)) or "-", mean_std(list(scores[system].values()))]
        row += [mean_std(list(scores[against].values())), difference.format() if difference else "-"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def pick_table(record: Dict) -> str:
    """The picked set's size, its teachers' shares and the pseudo labels' F1 (picked / left out)."""
    f1 = record["pseudo_label_f1"]
    by_teacher = ", ".join(f"{Path(t).parent.name} {n}" for t, n in zip(record["teachers"], record["by_teacher"]))
    rows = [
        ("sentences picked", f"{record['picked']} of {record['docs']} (rho {record['rho']})"),
        ("labels by teacher", by_teacher),
        ("mean P(source): picked / left out", f"{record['mean_picked']:.3f} / {record['mean_left_out']:.3f}"),
        ("pseudo-label F1: picked / left out / all", " / ".join(_percent(f1[key]) for key in ("picked", "left_out", "all"))),
    ]
    return "\n".join(["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows])


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


@dataclass
class TeacherLabels:
    """What every teacher gives the target train docs: one pass for the soft labels and the
    discriminator (picking.teacher_pass), one for the decoded entities (pseudo_label)."""

    passes: list = field(default_factory=list)
    hard: List[List[Doc]] = field(default_factory=list)


def label_with_teachers(teachers: Sequence, docs: Sequence[Doc], log: Callable = print) -> TeacherLabels:
    """Tag `docs` (none empty) with every teacher."""
    labels = TeacherLabels()
    for i, nlp in enumerate(teachers):
        log(f"  pick: teacher {i + 1}/{len(teachers)} tags {len(docs)} target sentences")
        labels.passes.append(teacher_pass(nlp, docs))
        # threshold 0 and no minimum: every doc kept, with the entities the teacher decodes
        hard, _ = pseudo_label(nlp, docs, threshold=0.0, min_entities=0)
        labels.hard.append(hard)
    return labels


def pseudo_label_f1(predicted: Sequence[Doc], gold: Sequence[Doc]) -> Optional[float]:
    """Entity F1 of pseudo-labeled docs against their gold docs (None: no entity either side)."""
    return score_entities([Example(doc, reference) for doc, reference in zip(predicted, gold)])["ents_f"]


def picked_sets_written(folder: Path) -> bool:
    """Whether folder holds every set the students learn from (then no teacher is needed)."""
    return all((folder / name).exists() for name in STUDENT_DATA.values())


def recorded_pick(folder: Path, teacher_models: Sequence[Path]) -> Optional[Dict]:
    """The pick.json beside folder if these teachers wrote it (None: there is none);
    PickedSetError if other teachers did, before anything is trained or picked."""
    record_path = folder.parent / PICK_RECORD
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text())
    teachers = [str(model) for model in teacher_models]
    if record["teachers"] != teachers:
        raise PickedSetError(
            f"{record_path} was picked by other teachers ({record['teachers']}), not {teachers}: "
            "use another OUTPUT, or remove that file and the picked folder beside it"
        )
    return record


def pick_sets(
    teacher_models: Sequence[Path], target_train: Path, folder: Path, rho: float = DEFAULT_RHO, log: Callable = print
) -> Dict:
    """Write folder/picked.spacy, all.spacy, hard.spacy and, beside the folder, pick.json (all
    or none) from the teachers' model-best pipelines, or read pick.json if they were written
    before from the same teachers (a fresh clone has the record without the sets: picked
    again); return the record. PickedSetError if the record is of other teachers."""
    record_path = folder.parent / PICK_RECORD
    teachers = [str(model) for model in teacher_models]
    record = recorded_pick(folder, teacher_models)
    if record is not None and picked_sets_written(folder):
        return record
    missing = [model for model in teachers if not Path(model).is_dir()]
    if missing:
        raise FileNotFoundError(f"the teachers {missing} have no model-best (not trained, or restored from results.json): train them first")
    pipelines = [spacy.load(model) for model in teacher_models]
    stored = list(DocBin().from_disk(target_train).get_docs(pipelines[0].vocab))
    gold = [doc for doc in stored if len(doc)]
    labels = label_with_teachers(pipelines, gold, log)
    tags = teacher_tags(pipelines, [find_tagger(nlp) for nlp in pipelines])
    picked, report = pick(gold, labels.passes, tags, rho)
    everything, _ = pick(gold, labels.passes, tags, 1.0)
    # the chosen teacher's own decoded entities per doc: what self_train_all learns, and what the F1 scores
    chosen = choose_teachers(labels.passes)
    hard = [labels.hard[teacher][i] for i, teacher in enumerate(chosen)]
    kept = set(_picked_indices(labels.passes, chosen, rho).tolist())
    record = {
        "teachers": teachers, "target_train": str(target_train), "rho": rho, **asdict(report),
        "empty_left_out": len(stored) - len(gold),
        "pseudo_label_f1": {
            "picked": pseudo_label_f1([hard[i] for i in sorted(kept)], [gold[i] for i in sorted(kept)]),
            "left_out": pseudo_label_f1(*_unpicked(hard, gold, kept)),
            "all": pseudo_label_f1(hard, gold),
        },
        "commands": {
            "picked.spacy": pick_command(teachers, target_train, folder / "picked.spacy", rho),
            "all.spacy": pick_command(teachers, target_train, folder / "all.spacy", 1.0),
        },
    }
    write_files({
        folder / "picked.spacy": DocBin(docs=picked, store_user_data=True).to_bytes(),
        folder / "all.spacy": DocBin(docs=everything, store_user_data=True).to_bytes(),
        folder / "hard.spacy": DocBin(docs=hard, store_user_data=True).to_bytes(),
        record_path: json.dumps(record, indent=2).encode("utf8"),
    })
    log(f"  pick: {report.picked} of {report.docs} sentences picked; labels by teacher {report.by_teacher}")
    return record


def _picked_indices(passes: Sequence, chosen: numpy.ndarray, rho: float) -> numpy.ndarray:
    """The indices of the docs `pick` keeps: the top rho by the chosen teacher's 1 - |p - 0.5|."""
    return top_rho(language_scores(passes, chosen)[1], rho)


def _unpicked(hard: Sequence[Doc], gold: Sequence[Doc], kept: set) -> Tuple[List[Doc], List[Doc]]:
    left = [i for i in range(len(gold)) if i not in kept]
    return [hard[i] for i in left], [gold[i] for i in left]


def pick_command(teachers: Sequence[str], target_train: Path, output: Path, rho: float) -> str:
    """The `pick` command that writes the same soft-labeled set (picking runs in this process)."""
    return " ".join(["python -m spacy_lowner pick", *teachers, str(target_train), str(output), f"--rho {rho}"])


@dataclass
class AdvPicker:
    """One run of the workflow: the data, the configs, the systems and the common overrides."""

    output: Path
    data: AdvPickerData
    configs: AdvPickerConfigs
    seeds: List[int]
    overrides: Dict[str, str]
    systems: Sequence[str] = SYSTEMS
    rho: float = DEFAULT_RHO
    gpu_id: int = -1
    bench_command: Optional[str] = None
    log: Callable = print
    # The seeds whose teachers pick (None: `seeds`): a process per seed can share one picked set.
    teacher_seeds: Optional[List[int]] = None

    def run(self, selection: str, train_missing: bool = True) -> List[RunResult]:
        """Every stage of one dev selection, in order; return the selection's finished runs."""
        folder = selection_folder(self.output, selection)
        systems = advpicker_systems(self.configs, self.data, folder / "picked", self.systems)
        sweep = Sweep(
            systems, folder, SweepData(self.data.source_train, self.data.dev(selection), self.data.test), self.overrides,
            gpu_id=self.gpu_id, bench_command=self.bench_command, log=self.log,
        )
        report = AdvPickerReport("source_only", selection=selection, dev=str(self.data.dev(selection)))
        self.log(f"== selection on {selection} dev: {folder}")
        sweep.run(plan([name for name in TEACHER_STAGE if name in systems], self.seeds), report, train_missing)
        students = [name for name in STUDENT_STAGE if name in systems]
        # a fresh clone's finished students, restored from results.json, need no picked set
        pending = [name for name in students for seed in self.seeds if not (run_folder(folder, None, name, seed) / "result.json").exists()]
        if pending and train_missing:
            cells = [Cell(None, seed, "teacher") for seed in self.teacher_seeds or self.seeds]
            teachers = [run_folder(folder, None, "teacher", cell.seed) / "model-best" for cell in cells]
            # refused here, not after the teachers below were trained again for nothing
            recorded_pick(folder / "picked", teachers)
            if not picked_sets_written(folder / "picked"):
                # a teacher restored from results.json has no model to pick with: trained again
                for cell in cells:
                    sweep.with_model(cell, f"pick <- {cell.label}")
            pick_sets(teachers, self.data.target_train, folder / "picked", self.rho, self.log)
        results = sweep.run(plan(students, self.seeds), report, train_missing) if students else sweep.finished()
        link_best_student(folder, results)
        return results


def link_best_student(folder: Path, results: Sequence[RunResult]) -> Optional[Path]:
    """Point folder/best_student at the model-best of the student_picked run with the highest
    dev F1 (what a user would ship; `spacy_lowner package` builds lowner_es from it) and return
    the link; None if no such run has its model here."""
    runs = [r for r in results if r.system == "student_picked" and (run_folder(folder, None, r.system, r.seed) / "model-best").is_dir()]
    if not runs:
        return None
    best = max(runs, key=lambda r: r.dev_f)
    link, staged = folder / BEST_STUDENT, folder / f".{BEST_STUDENT}"
    staged.unlink(missing_ok=True)
    # relative, so that the folder can move; replaced by one rename
    staged.symlink_to(run_folder(Path("."), None, best.system, best.seed) / "model-best")
    staged.replace(link)
    return link
