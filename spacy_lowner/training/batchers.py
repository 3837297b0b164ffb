"""Batches with a fixed labeled share, for training on labeled docs and unlabeled text.

When labeled and unlabeled docs are shuffled together, a batch's labeled share follows the
corpus: at 1% labeled, most batches hold no labeled doc (they still move every weight through
Adam's momentum), and a run sees each labeled doc far less often per step than a supervised
run does. This batcher batches the labeled docs exactly as `spacy.batch_by_words.v1` would a
labeled-only corpus and adds unlabeled docs to each batch: every batch holds labeled docs, and
per step a run sees as many labeled words as a supervised run batched by the same `size`
(equal labeled exposure, BENCHMARKS.md section 2).
"""
from typing import Callable, Iterable, Iterator, List, Optional

from spacy.training import Example
from spacy.training.batchers import Sizing, minibatch_by_words
from spacy.util import registry


@registry.batchers("spacy_lowner.labeled_share.v1")
def configure_labeled_share(
    *,
    size: Sizing,
    unlabeled_per_labeled: float = 1.0,
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Optional[Callable[[Example], int]] = None,
) -> Callable[[Iterable[Example]], Iterator[List[Example]]]:
    """Batch the labeled docs by words (`size`, `tolerance`, `discard_oversize` as in
    `spacy.batch_by_words.v1`) and add about `unlabeled_per_labeled` times as many unlabeled
    words to each batch, taken in turn from the (shuffled) unlabeled docs and started again
    when they run out. Labeled means `reference.has_annotation("ENT_IOB")`. An epoch is one
    pass over the labeled docs.
    """
    if unlabeled_per_labeled < 0:
        raise ValueError(f"unlabeled_per_labeled must be >= 0, got {unlabeled_per_labeled}")
    length = get_length or len

    def batcher(examples: Iterable[Example]) -> Iterator[List[Example]]:
        labeled, unlabeled = [], []
        for eg in examples:
            (labeled if eg.reference.has_annotation("ENT_IOB") else unlabeled).append(eg)
        position = 0
        for batch in minibatch_by_words(
            labeled, size=size, tolerance=tolerance, discard_oversize=discard_oversize, get_length=length
        ):
            wanted = unlabeled_per_labeled * sum(length(eg) for eg in batch)
            added = taken = 0
            while added < wanted and taken < len(unlabeled):  # each unlabeled doc once per batch at most
                eg = unlabeled[position % len(unlabeled)]
                position += 1
                taken += 1
                batch.append(eg)
                added += length(eg)
            yield batch

    return batcher
