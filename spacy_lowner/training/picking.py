"""AdvPicker's data selection (Chen et al. 2021, section 3.2): teacher pipelines trained with the
`language_adversarial` objective tag unlabeled target-language sentences, and the sentences the
kept language discriminator finds most language-independent are written with the teacher's tag
distributions as soft labels, for a student to distil (objectives/distillation.py).

- A sentence's score p is the discriminator's mean P(source) over its tokens; it is kept if it is
  among the top `rho` of the sentences by 1 - |p - 0.5| (most confused first; ties in doc
  order): rho = 0.8 in the paper.
- Several teachers (the same training run with other seeds): each sentence takes the teacher
  whose labels are surest, the highest mean over its tokens of the top tag's probability (the
  authors' overlap_all.py, which takes the maximum of the raw logits; here CRF marginals), and
  that teacher's own discriminator's p (the code keeps each seed's score with its labels, and
  kd.py ranks the chosen rows by it). One picked set serves every student seed.
- The soft labels are the chosen teacher's CRF marginals per token (`set_teacher`, half
  precision), on a copy of the sentence with its tokens only.
Empty docs have no score and are never picked.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..corpora.docs import tokens_only
from ..model.batch import pad_features
from ..model.channels import doc_domain, set_teacher
from ..objectives.language_adversarial import LanguageAdversarialObjective
from ..tools.outputs import write_files
from .pseudo_labels import find_tagger, tagged_batches

DEFAULT_RHO = 0.8


@dataclass
class TeacherPass:
    """What one teacher gives each doc: its tag distributions (n_tokens, n_tags) and its
    discriminator's mean P(source) (NaN for an empty doc)."""

    marginals: List[numpy.ndarray] = field(default_factory=list)
    source_probability: List[float] = field(default_factory=list)

    @property
    def sureness(self) -> numpy.ndarray:
        """(n_docs,) the mean over each doc's tokens of its top tag's probability (NaN if empty)."""
        return numpy.array([rows.max(1).mean() if len(rows) else numpy.nan for rows in self.marginals])


@dataclass
class PickReport:
    docs: int = 0  # docs read (empty ones included)
    picked: int = 0
    empty: int = 0
    by_teacher: List[int] = field(default_factory=list)  # picked docs whose labels each teacher gave
    # The lowest 1 - |p - 0.5| a picked doc has (the cut), and the mean p of picked and of left-out docs.
    cut: float = float("nan")
    mean_picked: float = float("nan")
    mean_left_out: float = float("nan")


def language_objective(nlp: Language, component: str) -> LanguageAdversarialObjective:
    """The language_adversarial objective of the pipeline's component, whose discriminator the
    head keeps; ValueError, saying how to get one, if there is none."""
    tagger = nlp.get_pipe(component)
    found = [obj for obj in tagger.objectives.values() if isinstance(obj, LanguageAdversarialObjective)]
    if len(found) != 1:
        trained = "no language_adversarial objective" if not found else f"{len(found)} language_adversarial objectives"
        raise ValueError(
            f"its {component} component was trained with {trained}; pick needs a teacher trained with one "
            "(configs/parts/language_adversarial.cfg), whose language discriminator it keeps"
        )
    if found[0].discriminator_name not in tagger.head.kept_modules:
        raise ValueError(
            f"its {component} component keeps no language discriminator ({found[0].discriminator_name}): "
            "train it with the language_adversarial objective"
        )
    return found[0]


def teacher_pass(
    nlp: Language,
    docs: Sequence[Doc],
    component: Optional[str] = None,
    batch_size: int = 64,
    progress: Optional[Callable[[int], None]] = None,
) -> TeacherPass:
    """Tag `docs` with one teacher: each doc's CRF marginals and its discriminator score.
    progress: called with the number of docs tagged so far after every batch."""
    name = find_tagger(nlp, component)
    objective = language_objective(nlp, name)
    tagger = nlp.get_pipe(name)
    tok2vec = tagger.model.get_ref("tok2vec")
    result = TeacherPass()
    for batch, _, marginals in tagged_batches(nlp, docs, name, batch_size):
        result.marginals.extend(marginals)
        result.source_probability.extend(_mean_source_probability(objective, tagger.head, tok2vec, batch))
        if progress is not None:
            progress(len(result.marginals))
    return result


def _mean_source_probability(objective: LanguageAdversarialObjective, head, tok2vec, docs: List[Doc]) -> List[float]:
    """Each doc's mean P(source) over its tokens (NaN for an empty doc). The docs have been
    through the components before the tagger, so a listener reads what they computed."""
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    scores = [float("nan")] * len(docs)
    if not filled:  # spacy-transformers' pooling fails on a batch of empty docs
        return scores
    batch = pad_features(tok2vec.predict([docs[i] for i in filled]), requires_grad=False)
    head.eval()
    with torch.no_grad():
        probs = objective.source_probabilities(head, batch.features, batch.mask, [doc_domain(docs[i]) for i in filled])
        means = probs.sum(1) / batch.mask.sum(1)
    for i, mean in zip(filled, means.tolist()):
        scores[i] = mean
    return scores


def language_independence(source_probability: numpy.ndarray) -> numpy.ndarray:
    """AdvPicker's score 1 - |p - 0.5|: 1 where the discriminator cannot tell the language."""
    return 1.0 - numpy.abs(numpy.asarray(source_probability, dtype="float64") - 0.5)


def top_rho(scores: Sequence[float], rho: float) -> numpy.ndarray:
    """The indices, in doc order, of the int(rho * n) highest of the n finite `scores` (NaN:
    not rankable); ties go to the earlier doc."""
    if not 0 < rho <= 1:
        raise ValueError(f"rho must be in (0, 1], got {rho}")
    scores = numpy.asarray(scores, dtype="float64")
    rankable = numpy.flatnonzero(~numpy.isnan(scores))
    # The small margin keeps float products such as 0.29 * 100 = 28.999... from losing a doc.
    count = int(rho * len(rankable) + 1e-9)
    order = rankable[numpy.argsort(-scores[rankable], kind="stable")]
    return numpy.sort(order[:count])


def choose_teachers(passes: Sequence[TeacherPass]) -> numpy.ndarray:
    """(n_docs,) for each doc the index of the teacher whose labels are surest (the first of
    equally sure ones); 0 for an empty doc."""
    sureness = numpy.stack([teacher.sureness for teacher in passes])
    return numpy.argmax(numpy.nan_to_num(sureness, nan=-1.0), axis=0)


def language_scores(passes: Sequence[TeacherPass], chosen: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Each doc's mean P(source) under the teacher chosen for it, and the score picking ranks
    by, 1 - |p - 0.5| (NaN for an empty doc)."""
    probability = numpy.array([passes[t].source_probability[i] for i, t in enumerate(chosen)], dtype="float64")
    return probability, language_independence(probability)


def pick(
    docs: Sequence[Doc], passes: Sequence[TeacherPass], tags: Sequence[str], rho: float = DEFAULT_RHO
) -> Tuple[List[Doc], PickReport]:
    """The picked docs (copies with their tokens and the chosen teacher's soft labels, in doc
    order) and a PickReport."""
    chosen = choose_teachers(passes)
    probability, scores = language_scores(passes, chosen)
    kept = top_rho(scores, rho)
    picked = [set_teacher(tokens_only(docs[i]), tags, passes[chosen[i]].marginals[i]) for i in kept]
    left_out = numpy.setdiff1d(numpy.flatnonzero(~numpy.isnan(scores)), kept)
    report = PickReport(
        docs=len(docs),
        picked=len(kept),
        empty=int(numpy.isnan(scores).sum()),
        by_teacher=[int((chosen[kept] == t).sum()) for t in range(len(passes))],
        cut=float(scores[kept].min()) if len(kept) else float("nan"),
        mean_picked=float(probability[kept].mean()) if len(kept) else float("nan"),
        mean_left_out=float(probability[left_out].mean()) if len(left_out) else float("nan"),
    )
    return picked, report


def teacher_tags(teachers: Sequence[Language], components: Sequence[str]) -> List[str]:
    """The tags every teacher tags with; ValueError if two teachers differ (other labels or
    scheme), since their distributions could not be compared or written as one channel."""
    tags = [list(nlp.get_pipe(name).scheme.tags) for nlp, name in zip(teachers, components)]
    for i, other in enumerate(tags[1:], start=2):
        if other != tags[0]:
            raise ValueError(
                f"teacher {i} tags with other tags than teacher 1 ({', '.join(other)} against {', '.join(tags[0])}): "
                "train the teachers with the same labels and scheme"
            )
    return tags[0]


def write_picked(
    teachers: Sequence[Language],
    docs: Iterable[Doc],
    path: Path,
    rho: float = DEFAULT_RHO,
    component: Optional[str] = None,
    batch_size: int = 64,
    progress: Optional[Callable[[int, int], None]] = None,
) -> PickReport:
    """Tag `docs` with every teacher, pick the top `rho` and write them, soft-labeled, to the
    DocBin `path` (user data kept, as `write_soft_labels` does), whole or not at all.
    progress: called with (teacher index, docs tagged). ValueError if no doc is picked."""
    if not 0 < rho <= 1:
        raise ValueError(f"rho must be in (0, 1], got {rho}")
    if not teachers:
        raise ValueError("no teacher pipeline given")
    components = [find_tagger(nlp, component) for nlp in teachers]
    for nlp, name in zip(teachers, components):
        language_objective(nlp, name)  # before any tagging: a teacher without a discriminator fails at once
    tags = teacher_tags(teachers, components)
    docs = list(docs)
    passes = []
    for index, (nlp, name) in enumerate(zip(teachers, components)):
        step = None if progress is None else (lambda done, index=index: progress(index, done))
        passes.append(teacher_pass(nlp, docs, name, batch_size, step))
    picked, report = pick(docs, passes, tags, rho)
    if not picked:
        raise ValueError(f"no doc is picked: {report.docs} docs, {report.empty} of them empty, rho {rho}")
    write_files({path: DocBin(docs=picked, store_user_data=True).to_bytes()})
    return report
