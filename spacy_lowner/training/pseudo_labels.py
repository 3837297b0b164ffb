"""Self-training data: a trained pipeline tags unlabeled text, and the docs it is sure of
become training docs with its entities as their annotation.

A token is sure when the probability the tagger gives the tag it decoded there (CRF marginals)
is at least the threshold. Two selections: `doc` keeps a doc only if every token is sure (one
unsure token makes the whole doc unsure, since a wrong tag anywhere would be learned as gold);
`token` keeps every doc with a sure token, its unsure tokens (and the entities they are part
of) left unknown, which lowner_ner's CRF marginalises: an entity the tagger is sure of counts
even in a doc it is unsure of elsewhere, which matters most for the rare types, whose docs
seldom pass as a whole. Docs in which the tagger finds fewer than `min_entities` (sure)
entities are left out by default (min_entities=1): with a weak tagger most all-O docs are all-O
because it missed their entities, and they would teach it to miss them.

Soft labels (`soft_label`, `write_soft_labels`) keep every doc given, as text only, with the
tagger's whole distribution over its tags per token as the `teacher` channel
(model/channels.py): a student that distils them reads `batch.teacher`, and the supervised loss
sees an unlabeled doc. Choosing which docs to soft-label (a discriminator's pick) is the
caller's.
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training.corpus import walk_corpus
from spacy.util import minibatch
from thinc.types import Floats2d, Ints1d

from ..component.pipe import LowNERTagger
from ..corpora.docs import tokens_only
from ..model.channels import set_teacher
from ..tools.outputs import write_files
from .readers import read_unlabeled

# What the tokens outside the predicted entities become.
OUTSIDE = ("O", "missing")
# What is kept: whole docs whose every token is sure, or the sure tokens of every doc.
SELECTIONS = ("doc", "token")


@dataclass
class PseudoLabelReport:
    docs: int = 0  # docs read (empty ones included)
    kept: int = 0
    entities: Counter = field(default_factory=Counter)  # in the kept docs, by label
    too_unsure: int = 0
    too_few_entities: int = 0
    unknown_tokens: int = 0  # unsure tokens of kept docs, left unknown (selection "token")


def sure_tokens(marginals: numpy.ndarray, tag_ids: numpy.ndarray, threshold: float) -> numpy.ndarray:
    """Per token, whether the probability of its decoded tag is at least `threshold`."""
    tag_ids = numpy.asarray(tag_ids, dtype="i")
    return marginals[numpy.arange(len(tag_ids)), tag_ids] >= threshold


def find_tagger(nlp: Language, name: Optional[str] = None) -> str:
    """The name of the pipeline's lowner_ner component (the one named, or the only one)."""
    names = [n for n, pipe in nlp.pipeline if isinstance(pipe, LowNERTagger)]
    if name is not None:
        if name not in names:
            raise ValueError(f"the pipeline has no lowner_ner component named {name!r} (it has {names or 'none'})")
        return name
    if len(names) != 1:
        raise ValueError(f"the pipeline has {len(names)} lowner_ner components ({names}); name one")
    return names[0]


def tagged_batches(
    nlp: Language, docs: Iterable[Doc], name: str, batch_size: int
) -> Iterator[Tuple[List[Doc], List[Ints1d], List[Floats2d]]]:
    """Batches of copies of `docs` (tokens and domain only) with what the tagger `name` gives
    each: its decoded tag ids and its (n_tokens, n_tags) CRF marginals, in `scheme.tags` order."""
    tagger: LowNERTagger = nlp.get_pipe(name)
    # The components before the tagger (a tok2vec or transformer its listener reads) run as
    # in any prediction; the tagger's own pass is done here, with its marginals.
    predicted = nlp.pipe((tokens_only(doc, nlp.vocab) for doc in docs), disable=[name], batch_size=batch_size)
    for batch in minibatch(predicted, size=batch_size):
        yield (batch, *tagger.predict_with_marginals(batch))


def pseudo_label(
    nlp: Language,
    docs: Iterable[Doc],
    threshold: float,
    min_entities: int = 1,
    outside: str = "O",
    component: Optional[str] = None,
    batch_size: int = 64,
    progress: Optional[Callable[[PseudoLabelReport], None]] = None,
    selection: str = "doc",
) -> Tuple[List[Doc], PseudoLabelReport]:
    """Tag `docs` (their tokenization is kept) and return copies of the confident ones with
    the predicted entities as annotation, and counts. outside: what the sure tokens outside the
    predicted entities become, "O" or "missing" (unknown: the CRF marginalises them, so an
    entity the tagger missed is not taught as O). selection: "doc" (every token sure) or
    "token" (unsure tokens unknown). progress: called with the counts after every batch."""
    if not 0 <= threshold <= 1:
        raise ValueError(f"the confidence threshold must be in [0, 1], got {threshold}")
    if outside not in OUTSIDE:
        raise ValueError(f"outside must be one of {OUTSIDE}, got {outside!r}")
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    name = find_tagger(nlp, component)
    tagger: LowNERTagger = nlp.get_pipe(name)
    report = PseudoLabelReport()
    kept: List[Doc] = []
    for batch, tag_ids, marginals in tagged_batches(nlp, docs, name, batch_size):
        tagger.set_annotations(batch, tag_ids)
        report.docs += len(batch)
        for doc, ids, probs in zip(batch, tag_ids, marginals):
            sure = sure_tokens(probs, ids, threshold)
            # No sure token (an empty doc included): nothing to teach; selecting docs, one unsure token is enough.
            if not sure.any() or (selection == "doc" and not sure.all()):
                report.too_unsure += 1
                continue
            entities, unknown = [], ~sure
            for ent in doc.ents:
                if sure[ent.start : ent.end].all():
                    entities.append(ent)
                else:  # a half-sure entity's sure tokens are not O either
                    unknown[ent.start : ent.end] = True
            if len(entities) < min_entities:
                report.too_few_entities += 1
                continue
            copy = tokens_only(doc)
            spans = [Span(copy, e.start, e.end, label=e.label_) for e in entities]
            missing = [Span(copy, i, i + 1) for i in numpy.flatnonzero(unknown)]
            copy.set_ents(spans, missing=missing, default="outside" if outside == "O" else "missing")
            kept.append(copy)
            report.entities.update(ent.label_ for ent in entities)
            report.unknown_tokens += len(missing)
        report.kept = len(kept)
        if progress is not None:
            progress(report)
    return kept, report


def write_self_training_data(
    nlp: Language,
    labeled: Path,
    unlabeled: Path,
    folder: Path,
    threshold: float,
    min_entities: int = 1,
    outside: str = "O",
    progress: Optional[Callable[[PseudoLabelReport], None]] = None,
    selection: str = "doc",
) -> PseudoLabelReport:
    """Write the next round's training data to `folder`, a corpus folder for paths.train (spaCy
    reads every .spacy file in it): the labeled docs as they are (labeled.spacy, or one file per
    DocBin of a labeled folder) and the docs of `unlabeled` that `nlp` tags with confidence
    (pseudo.spacy). All files are written or none."""
    kept, report = pseudo_label(
        nlp, read_unlabeled(unlabeled, nlp), threshold, min_entities, outside, progress=progress, selection=selection
    )
    sources = walk_corpus(labeled, ".spacy")
    names = ["labeled.spacy"] if len(sources) == 1 else [f"labeled{i}.spacy" for i in range(len(sources))]
    files = {folder / name: source.read_bytes() for name, source in zip(names, sources)}
    files[folder / "pseudo.spacy"] = DocBin(docs=kept, store_user_data=True).to_bytes()
    write_files(files)
    return report


def soft_label(
    nlp: Language,
    docs: Iterable[Doc],
    component: Optional[str] = None,
    batch_size: int = 64,
    progress: Optional[Callable[[PseudoLabelReport], None]] = None,
) -> Tuple[List[Doc], PseudoLabelReport]:
    """Copies of `docs`, every one in order, with their tokens and domain and no entity
    annotation, each carrying the tagger's distribution over its tags per token (CRF
    marginals) as its teacher channel; and counts (docs = kept = the docs written).
    progress: called with the counts after every batch."""
    name = find_tagger(nlp, component)
    tags = nlp.get_pipe(name).scheme.tags
    report = PseudoLabelReport()
    labeled: List[Doc] = []
    for batch, _, marginals in tagged_batches(nlp, docs, name, batch_size):
        # A fresh copy: the predicted doc carries what the components before the tagger set.
        labeled.extend(set_teacher(tokens_only(doc), tags, probs) for doc, probs in zip(batch, marginals))
        report.docs = report.kept = len(labeled)
        if progress is not None:
            progress(report)
    return labeled, report


def write_soft_labels(
    nlp: Language,
    docs: Iterable[Doc],
    path: Path,
    component: Optional[str] = None,
    batch_size: int = 64,
    progress: Optional[Callable[[PseudoLabelReport], None]] = None,
) -> PseudoLabelReport:
    """Write `docs` soft-labeled by `nlp` (see soft_label) to the DocBin `path`, user data
    kept, so that MixedCorpus's `unlabeled` (or spaCy's Corpus) yields them with their teacher
    channel. ValueError if there is no doc to write; the file is written whole or not at all."""
    labeled, report = soft_label(nlp, docs, component, batch_size, progress)
    if not labeled:
        raise ValueError("there is no doc to soft-label")
    write_files({path: DocBin(docs=labeled, store_user_data=True).to_bytes()})
    return report
