"""Batches with a fixed labeled share, for training on labeled docs and unlabeled text.

When labeled and unlabeled docs are shuffled together, a batch's labeled share follows the
corpus: at 1% labeled, most batches hold no labeled doc (they still move every weight through
Adam's momentum), and a run sees each labeled doc far less often per step than a supervised
run does. This batcher batches the labeled docs exactly as `spacy.batch_by_words.v1` would a
labeled-only corpus and adds unlabeled docs to each batch: every batch holds labeled docs, and
per step a run sees as many labeled words as a supervised run batched by the same `size`
(equal labeled exposure, BENCHMARKS.md section 2).

`spacy_lowner.domain_share.v1` generalises it to corpora read together (a source and a target,
two languages: spacy_lowner.MultiCorpus.v1): each domain gets a share of every batch's words,
and an epoch is one pass over one named domain; or every batch is of one domain, the domains
in turn by their shares. `spacy_lowner.domain_sequence.v1` gives the source's batches for a
number of steps and the target's after them (sequential transfer in one run).
"""
import itertools
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.training import Example
from spacy.training.batchers import Sizing, minibatch_by_words
from spacy.util import registry

from ..errors import setting_error
from ..model.channels import doc_domain

Batcher = Callable[[Iterable[Example]], Iterator[List[Example]]]


@registry.batchers("spacy_lowner.labeled_share.v1")
def configure_labeled_share(
    *,
    size: Sizing,
    unlabeled_per_labeled: float = 1.0,
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Optional[Callable[[Example], int]] = None,
) -> Batcher:
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
        unlabeled_docs = _Cycle(unlabeled, length)
        for batch in minibatch_by_words(
            labeled, size=size, tolerance=tolerance, discard_oversize=discard_oversize, get_length=length
        ):
            taken, _ = unlabeled_docs.take(unlabeled_per_labeled * sum(length(eg) for eg in batch))
            batch.extend(taken)
            yield batch

    return batcher


@registry.batchers("spacy_lowner.domain_share.v1")
def configure_domain_share(
    *,
    size: Sizing,
    shares: Dict[str, float],
    epoch_domain: str,
    mixed: bool = True,
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Optional[Callable[[Example], int]] = None,
) -> Batcher:
    """Batches of about `size` words in which each domain (`doc_domain(eg.reference)`, set by
    spacy_lowner.MultiCorpus.v1) has its share of the words.

    shares: a weight per domain, e.g. {"source": 0.5, "target": 0.5}, divided by their sum.
        Every training doc's domain must have one.
    epoch_domain: an epoch is one pass over this domain's docs, batched by words as
        `spacy.batch_by_words.v1` would batch them alone at `size` times their share: per
        step a run sees as many of its words whatever else the batches hold (equal exposure).
        The other domains' docs are taken in turn and started again when they run out.
    mixed: true, every batch holds every domain at its share of the words: the docs are
        whole, so what a domain falls short of or over its share is carried into the next
        batch, and a doc is in a batch at most once. false, every batch holds one domain and
        about `size` words (DATNet's batches), and the next batch is of the domain furthest
        below its share of the words batched so far.
    tolerance, discard_oversize, get_length: as in spacy.batch_by_words.v1.
    """
    _check_shares(shares, epoch_domain)
    total = sum(shares.values())
    fractions = {domain: share / total for domain, share in shares.items()}
    options = {"tolerance": tolerance, "discard_oversize": discard_oversize, "get_length": get_length or len}

    def batcher(examples: Iterable[Example]) -> Iterator[List[Example]]:
        by_domain = _by_domain(examples, fractions, "domain_share")
        # one iterator for the run's batches, as spaCy's batchers read a schedule of sizes
        sizes = itertools.repeat(size) if isinstance(size, int) else iter(size)
        if mixed:
            return _mixed_batches(by_domain, fractions, epoch_domain, sizes, options)
        return _single_domain_batches(by_domain, fractions, epoch_domain, sizes, options)

    return batcher


def _check_shares(shares: Dict[str, float], epoch_domain: str) -> None:
    batcher = "domain_share"
    if not shares:
        raise setting_error(batcher, "shares", 'give a share per domain, e.g. {"source": 0.5, "target": 0.5}')
    for domain, share in shares.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not share > 0:
            raise setting_error(batcher, f"shares.{domain}", f"must be a number > 0, got {share!r}")
    if epoch_domain not in shares:
        raise setting_error(batcher, "epoch_domain", f"{epoch_domain!r} has no share; use one of {', '.join(shares)}")


def _by_domain(examples: Iterable[Example], domains: Iterable[str], batcher: str) -> Dict[str, List[Example]]:
    """The examples of each of `domains`, in the order given; every doc must be of one of them,
    and each of them must have some (`batcher` names the batcher in the errors)."""
    by_domain: Dict[str, List[Example]] = {domain: [] for domain in domains}
    for eg in examples:
        domain = doc_domain(eg.reference)
        if domain is None:
            raise ValueError(
                f"{batcher}: a training doc has no domain; read the corpora with "
                "spacy_lowner.MultiCorpus.v1 (or give the reader a domain)"
            )
        if domain not in by_domain:
            raise ValueError(
                f"{batcher}: training docs of domain {domain!r}, which it was not given; it batches "
                f"{', '.join(by_domain)}: read the corpora with spacy_lowner.MultiCorpus.v1, a block per domain"
            )
        by_domain[domain].append(eg)
    for domain, domain_examples in by_domain.items():
        if not domain_examples:
            raise ValueError(f"{batcher}: no training doc is of domain {domain!r}")
    return by_domain


def _mixed_batches(
    by_domain: Dict[str, List[Example]],
    fractions: Dict[str, float],
    epoch_domain: str,
    sizes: Iterator[float],
    options: Dict[str, Any],
) -> Iterator[List[Example]]:
    """The epoch domain's docs batched by words at its share of each size, every batch filled
    up with the other domains' docs to their shares."""
    length = options["get_length"]
    own = fractions[epoch_domain]
    others = {domain: _Cycle(examples, length) for domain, examples in by_domain.items() if domain != epoch_domain}
    owed = dict.fromkeys(others, 0.0)  # words a domain fell short of (> 0) or over (< 0) its share so far
    for batch in minibatch_by_words(by_domain[epoch_domain], size=(s * own for s in sizes), **options):
        words = sum(length(eg) for eg in batch)
        for domain, docs in others.items():
            wanted = fractions[domain] / own * words + owed[domain]
            taken, added = docs.take(wanted)
            # nothing is owed by a domain whose every doc is in the batch: it has no more to give
            owed[domain] = wanted - added if len(taken) < len(docs) else 0.0
            batch.extend(taken)
        yield batch


def _single_domain_batches(
    by_domain: Dict[str, List[Example]],
    fractions: Dict[str, float],
    epoch_domain: str,
    sizes: Iterator[float],
    options: Dict[str, Any],
) -> Iterator[List[Example]]:
    """Batches of one domain each, the next of the domain furthest below its share of the words
    so far, until the epoch domain's docs have all been batched once."""
    length = options["get_length"]
    streams = {
        domain: minibatch_by_words(examples, size=sizes, **options)
        if domain == epoch_domain
        else _cycled_batches(domain, examples, sizes, options)
        for domain, examples in by_domain.items()
    }
    batched = dict.fromkeys(by_domain, 0)
    while True:
        domain = min(batched, key=lambda name: batched[name] / fractions[name])
        batch = next(streams[domain], None)
        if batch is None:  # the end of the pass over the epoch domain
            return
        batched[domain] += sum(length(eg) for eg in batch)
        yield batch


def _cycled_batches(
    domain: str, examples: List[Example], sizes: Iterator[float], options: Dict[str, Any]
) -> Iterator[List[Example]]:
    """The examples batched by words, pass after pass."""
    while True:
        empty = True
        for batch in minibatch_by_words(examples, size=sizes, **options):
            empty = False
            yield batch
        if empty:  # every doc discarded as oversize: another pass would not end either
            raise ValueError(f"domain_share: every doc of domain {domain!r} is longer than the batch size (discard_oversize)")


class _Cycle:
    """The docs of one kind taken in turn, started again when they run out."""

    def __init__(self, examples: List[Example], length: Callable[[Example], int]) -> None:
        self.examples = examples
        self.length = length
        self.position = 0

    def __len__(self) -> int:
        return len(self.examples)

    def take(self, words: float) -> Tuple[List[Example], int]:
        """The next docs until they hold at least `words` words, each doc at most once, and
        the words they hold."""
        taken: List[Example] = []
        added = 0
        while added < words and len(taken) < len(self.examples):
            eg = self.examples[self.position % len(self.examples)]
            self.position += 1
            taken.append(eg)
            added += self.length(eg)
        return taken, added


@registry.batchers("spacy_lowner.domain_sequence.v1")
def configure_domain_sequence(
    *,
    size: Sizing,
    source_steps: int,
    source_domain: str = "source",
    target_domain: str = "target",
    tolerance: float = 0.2,
    discard_oversize: bool = False,
    get_length: Optional[Callable[[Example], int]] = None,
) -> Batcher:
    """Train on the source, then continue on the target (the sequential transfer baseline) in
    one `spacy train`: the first `source_steps` batches hold source docs only, every later
    batch target docs only, each batched by words as `spacy.batch_by_words.v1` would batch
    that domain alone.

    An epoch (one call, as spaCy's loop makes it) is one pass over the source while steps
    are left to it, cut at the switch, and one pass over the target after it: spaCy's
    `max_steps` bounds the run, and `max_epochs` counts these passes. The steps are counted
    over the batcher's life, which is one training: spaCy resolves the batcher once per run.
    source_domain, target_domain: the domains (`doc_domain`, set by
    spacy_lowner.MultiCorpus.v1) of the two phases; every training doc must be of one of them.
    """
    if isinstance(source_steps, bool) or not isinstance(source_steps, int) or source_steps < 0:
        raise setting_error("domain_sequence", "source_steps", f"must be a whole number >= 0, got {source_steps!r}")
    if source_domain == target_domain:
        raise setting_error("domain_sequence", "target_domain", f"must differ from source_domain, both are {source_domain!r}")
    options = {"tolerance": tolerance, "discard_oversize": discard_oversize, "get_length": get_length or len}
    batched = 0  # batches yielded so far in the run: the step the next batch trains

    def batcher(examples: Iterable[Example]) -> Iterator[List[Example]]:
        nonlocal batched
        by_domain = _by_domain(examples, (source_domain, target_domain), "domain_sequence")
        sizes = itertools.repeat(size) if isinstance(size, int) else iter(size)
        in_source = batched < source_steps
        domain = source_domain if in_source else target_domain
        empty = True
        for batch in minibatch_by_words(by_domain[domain], size=sizes, **options):
            empty = False
            batched += 1
            yield batch
            if in_source and batched == source_steps:  # the switch: the next epoch is the target's
                return
        if empty:  # every doc discarded as oversize: spaCy's loop would call for epochs forever
            raise ValueError(f"domain_sequence: every doc of domain {domain!r} is longer than the batch size (discard_oversize)")

    return batcher
