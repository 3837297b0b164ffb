"""Low-resource splits: a few labeled sentences, the rest as unlabeled text.

A random 1% of WeiboNER train (14 sentences) often misses an entity type altogether, and
a model cannot learn a type it never sees, so the labeled subset is a random sample that
is first made to cover every type: a greedy set cover over the sentences in a seeded
random order, then filled up from the same order.
"""
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import FrozenSet, List, Optional, Sequence, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..corpora.docs import tokens_only
from ..tools.outputs import check_outputs, write_files
from .readers import UNLABELED_SUFFIXES


class CoverTooLargeError(ValueError):
    """The labeled size asked for is smaller than a subset that shows every entity type."""

    def __init__(self, n_types: int, n_cover: int, n_docs: int, n_asked: int, seed: int) -> None:
        super().__init__(n_types, n_cover, n_docs, n_asked, seed)
        self.n_types = n_types
        self.n_cover = n_cover
        self.n_docs = n_docs
        self.n_asked = n_asked
        self.seed = seed

    @property
    def min_ratio(self) -> float:
        """n_cover / n_docs rounded up to 4 decimals (a ratio short enough to type), raised until
        its labeled size, max(1, round(ratio * docs)), is at least n_cover."""
        ratio = math.ceil(self.n_cover / self.n_docs * 10_000) / 10_000
        while round(ratio * self.n_docs) < self.n_cover:
            ratio = round(ratio + 0.0001, 4)
        return min(ratio, 1.0)

    def advice(self, count: str = "count=", ratio: str = "ratio=") -> str:
        """The message, naming the options as `count` and `ratio` (e.g. "--count ")."""
        return (
            f"{self.n_asked} labeled sentences cannot show all {self.n_types} entity types: "
            f"covering them took {self.n_cover} of the {self.n_docs} sentences (seed {self.seed}). "
            f"Ask for at least {self.n_cover}: {count}{self.n_cover} or {ratio}{self.min_ratio}"
        )

    def __str__(self) -> str:
        return self.advice()


@dataclass(frozen=True)
class LabeledSplit:
    """Doc indices of the labeled and the unlabeled part, each in input order."""

    labeled: List[int]
    unlabeled: List[int]
    types: List[str]  # the entity types of the input, sorted
    cover: List[int]  # the labeled docs picked to cover the types (sorted), the rest is random


def labeled_size(n_docs: int, *, ratio: Optional[float] = None, count: Optional[int] = None) -> int:
    """The number of labeled docs: `count`, or max(1, round(ratio * n_docs)). Exactly one of
    them must be given; ratio in (0, 1], count in [1, n_docs]."""
    if (ratio is None) == (count is None):
        raise ValueError("Give either a ratio or a count of labeled sentences (one of them, not both).")
    if n_docs < 1:
        raise ValueError("There are no docs to sample from.")
    if ratio is not None:
        if not 0 < ratio <= 1:
            raise ValueError(f"The labeled ratio must be in (0, 1], got {ratio}.")
        return max(1, round(ratio * n_docs))
    if not 1 <= count <= n_docs:  # type: ignore[operator]
        raise ValueError(f"The labeled count must be between 1 and {n_docs} (the number of docs), got {count}.")
    return count  # type: ignore[return-value]


def sample_labeled(
    docs: Sequence[Doc], *, ratio: Optional[float] = None, count: Optional[int] = None, seed: int = 0, cover_all: bool = True
) -> LabeledSplit:
    """Choose labeled_size(len(docs), ratio=ratio, count=count) docs to keep labeled, such that
    every entity type of `docs` appears in them at least once.

    The indices are shuffled with random.Random(seed). Then, while a type is not covered, the
    rarest one (fewest docs; ties by name) is taken and, among the docs with it, the one with
    the most uncovered types (the first in shuffled order on ties) is added. The rest is
    filled in shuffled order. The same docs and seed give the same split.
    Raises CoverTooLargeError if the cover alone needs more docs than asked for; with
    cover_all=False the split is then the cover's first docs (the rarest types first), and
    some types are not labeled.
    """
    n = labeled_size(len(docs), ratio=ratio, count=count)
    doc_types = [frozenset(ent.label_ for ent in doc.ents) for doc in docs]
    types = sorted(set().union(*doc_types))
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    cover = _greedy_cover(doc_types, order)
    if len(cover) > n and cover_all:
        raise CoverTooLargeError(len(types), len(cover), len(docs), n, seed)
    cover = cover[:n]
    chosen = set(cover)
    for i in order:
        if len(chosen) == n:
            break
        chosen.add(i)
    return LabeledSplit(
        labeled=sorted(chosen),
        unlabeled=[i for i in range(len(docs)) if i not in chosen],
        types=types,
        cover=sorted(cover),
    )


def _greedy_cover(doc_types: Sequence[FrozenSet[str]], order: Sequence[int]) -> List[int]:
    doc_freq = Counter(label for types in doc_types for label in types)
    uncovered = set(doc_freq)
    cover: List[int] = []
    while uncovered:
        rarest = min(uncovered, key=lambda label: (doc_freq[label], label))
        # max() keeps the first of equals, i.e. the first in shuffled order.
        best = max(
            (i for i in order if rarest in doc_types[i]), key=lambda i: len(doc_types[i] & uncovered)
        )
        cover.append(best)
        uncovered -= doc_types[best]
    return cover


@dataclass
class SampleReport:
    split: LabeledSplit
    labeled_entities: Counter = field(default_factory=Counter)  # type -> entities in the labeled part
    input_entities: Counter = field(default_factory=Counter)  # type -> entities in the input


def sample_corpus(
    input_path: Union[str, Path],
    labeled_path: Union[str, Path],
    unlabeled_path: Union[str, Path],
    *,
    ratio: Optional[float] = None,
    count: Optional[int] = None,
    seed: int = 0,
    keep_labels: bool = False,
) -> SampleReport:
    """Split a labeled DocBin into a labeled DocBin (docs unchanged, user data stored) and
    unlabeled text (see sample_labeled for the choice).

    keep_labels: write the rest as a labeled .spacy file too (to hold out a dev split that
    shows every type, e.g. for CLUENER, whose test labels are not public).

    unlabeled_path is written by suffix: .spacy, a DocBin of the docs with their tokens only
    (no entity annotation, so MixedCorpus and the NER see them as unlabeled; tokenization
    kept exactly); .txt, a doc's text per line (line breaks inside become spaces); .jsonl,
    {"text": ...} per line. Both files are written only once everything has succeeded, each
    through a temporary file, so an error leaves no output and any old files untouched.
    """
    labeled_path, unlabeled_path = Path(labeled_path), Path(unlabeled_path)
    if labeled_path.suffix != ".spacy":
        raise ValueError(f"The labeled output must be a .spacy file (a DocBin), got {labeled_path}")
    suffix = unlabeled_path.suffix.lower()
    if suffix not in UNLABELED_SUFFIXES:
        raise ValueError(f"The unlabeled output must be {', '.join(UNLABELED_SUFFIXES)}; got {unlabeled_path}")
    if keep_labels and suffix != ".spacy":
        raise ValueError(f"With keep_labels the rest must be a .spacy file, got {unlabeled_path}")
    check_outputs([labeled_path, unlabeled_path], [input_path])
    try:
        docs = list(DocBin().from_disk(input_path).get_docs(Vocab()))
    except ValueError as err:  # E1014: not a DocBin
        raise ValueError(f"{input_path}: {err}") from None
    unannotated = [i for i, doc in enumerate(docs, start=1) if not doc.has_annotation("ENT_IOB")]
    if unannotated:
        raise ValueError(
            f"{input_path}: {len(unannotated)} of {len(docs)} docs have no entity annotation (the "
            f"first is doc {unannotated[0]}); sample splits a labeled corpus, not unlabeled text"
        )
    if not docs:
        raise ValueError(f"{input_path}: no docs to sample from")
    split = sample_labeled(docs, ratio=ratio, count=count, seed=seed)
    write_split(docs, split, labeled_path, unlabeled_path, keep_labels=keep_labels)
    report = SampleReport(split)
    for doc in docs:
        report.input_entities.update(ent.label_ for ent in doc.ents)
    for i in split.labeled:
        report.labeled_entities.update(ent.label_ for ent in docs[i].ents)
    return report


def write_split(
    docs: Sequence[Doc],
    split: LabeledSplit,
    labeled_path: Path,
    unlabeled_path: Path,
    *,
    keep_labels: bool = False,
    extra_unlabeled: Sequence[Doc] = (),
) -> None:
    """Write the labeled docs of a split unchanged (a DocBin with user data) and the rest,
    followed by `extra_unlabeled`, as unlabeled text by unlabeled_path's suffix (see
    sample_corpus) or, with keep_labels, as labeled docs: both files or neither."""
    rest = [docs[i] for i in split.unlabeled] + list(extra_unlabeled)
    if keep_labels:
        rest_data = DocBin(store_user_data=True, docs=rest).to_bytes()
    else:
        rest_data = _unlabeled_bytes(rest, unlabeled_path.suffix.lower())
    labeled_data = DocBin(store_user_data=True, docs=[docs[i] for i in split.labeled]).to_bytes()
    write_files({labeled_path: labeled_data, unlabeled_path: rest_data})


def _unlabeled_bytes(docs: Sequence[Doc], suffix: str) -> bytes:
    if suffix == ".spacy":
        return DocBin(store_user_data=True, docs=[tokens_only(doc) for doc in docs]).to_bytes()
    texts = [re.sub(r"[\r\n]+", " ", doc.text) for doc in docs]
    if suffix == ".jsonl":
        texts = [json.dumps({"text": text}, ensure_ascii=False) for text in texts]
    return "".join(text + "\n" for text in texts).encode("utf8")
