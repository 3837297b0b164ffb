"""Self-training systems in a ratio sweep: a system whose training data is its split's labeled
docs plus the docs a teacher system (trained earlier in the same sweep, on the same split)
tagged with confidence (`python -m spacy_lowner pseudo-label`)."""
import os
from pathlib import Path
from typing import Callable, Tuple

import spacy
from spacy.tokens import DocBin

from spacy_lowner.training.pseudo_labels import write_self_training_data

from .ratios import Split
from .runs import read_result, write_result
from .systems import System


def self_training_data(
    system: System, split: Split, teacher_run: Path, folder: Path, log: Callable = print
) -> Tuple[Path, int]:
    """A folder with the split's labeled docs and the teacher's confident docs (a spaCy
    corpus path reads every .spacy file in it), written once and reused; and how many docs
    the teacher kept."""
    if written_before(folder):
        return folder, len(DocBin().from_disk(folder / "pseudo.spacy"))
    settings = system.self_training
    model = teacher_run / "model-best"
    if not model.is_dir():
        raise FileNotFoundError(
            f"{system.name} learns from {settings.teacher}, whose run {teacher_run} has no model-best: train it first"
        )
    report = write_self_training_data(
        spacy.load(model), split.labeled, split.unlabeled, folder, settings.threshold, outside=settings.outside,
        selection=settings.selection,
    )
    n_entities = sum(report.entities.values())
    unknown = f", {report.unknown_tokens} unsure tokens unknown" if report.unknown_tokens else ""
    log(f"  {system.name}: {settings.teacher} keeps {report.kept} of {report.docs} unlabeled docs ({n_entities} entities{unknown})")
    return folder, report.kept


def written_before(folder: Path) -> bool:
    """Whether folder holds a self-training set written before (then no teacher is needed)."""
    return (folder / "labeled.spacy").exists() and (folder / "pseudo.spacy").exists()


def keep_teachers_result(system: str, teacher_run: Path, run_dir: Path) -> None:
    """A teacher sure of no unlabeled doc ends self-training with its own pipeline (as
    `spacy_lowner train` does): the run's result is the teacher's, under the system's name, and
    its model-best a link to the teacher's, which a student of this system then reads."""
    result = read_result(teacher_run / "result.json")
    result.system = system
    write_result(result, run_dir / "result.json")
    model = run_dir / "model-best"
    if (teacher_run / "model-best").is_dir() and not model.exists():
        model.symlink_to(os.path.relpath(teacher_run / "model-best", run_dir), target_is_directory=True)
