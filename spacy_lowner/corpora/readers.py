"""Training corpora for spaCy configs: `spacy_lowner.TaggedCorpus.v1` reads the original
files, `spacy_lowner.MixedCorpus.v1` mixes a labeled DocBin with unlabeled text."""
import random
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from .convert import read_docs
from .docs import tokens_only
from .text import read_jsonl, read_text

# The unlabeled inputs MixedCorpus reads (and `python -m spacy_lowner sample` writes).
UNLABELED_SUFFIXES = (".spacy", ".txt", ".jsonl")


@registry.readers("spacy_lowner.TaggedCorpus.v1")
def create_tagged_corpus(
    path: Path, format: str, lang: str = "", nam_only: bool = False, limit: int = 0
) -> Callable[[Language], Iterable[Example]]:
    """Read a weibo/conll/cluener/text/jsonl file (see corpora.convert.read_docs).

    lang: decides whether column-file words are joined by spaces; default the
        pipeline's language. limit: the first `limit` docs only (0: all).
    The predicted docs keep the corpus tokenization, like spaCy's gold_preproc.
    """

    def read(nlp: Language) -> Iterator[Example]:
        docs = read_docs(format, path, nlp, lang=lang or None, nam_only=nam_only)
        for doc in islice(docs, limit or None):
            yield Example(tokens_only(doc, nlp.vocab), doc)

    return read


@registry.readers("spacy_lowner.MixedCorpus.v1")
def create_mixed_corpus(
    path: Optional[Path],
    unlabeled: Optional[Path] = None,
    unlabeled_per_labeled: float = 0.0,
    repeat_labeled: Union[int, str] = 1,
    seed: int = 0,
    max_length: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """A labeled DocBin mixed with unlabeled text, for semi-supervised training.

    path: the labeled DocBin (.spacy). Every doc must carry entity annotation (all-O docs
        do), so that `eg.reference.has_annotation("ENT_IOB")` tells labeled from unlabeled.
    unlabeled: unlabeled text, by suffix: .spacy (a DocBin; any entity annotation in it is
        removed, so it counts as unlabeled), .txt (a doc per non-empty line) or .jsonl
        ({"text": ...} per line), the last two tokenized by `nlp.make_doc`. None or "": no
        unlabeled text, and the corpus yields the labeled docs in file order like spaCy's
        Corpus. An unlabeled example's reference has the same words and no entity
        annotation at all (missing, not O).
    unlabeled_per_labeled: 0 uses every unlabeled doc; otherwise at most
        round(unlabeled_per_labeled * labeled docs) of them, a subset drawn with `seed`
        (the same subset on every pass), to keep the mix from drowning the few labels.
    repeat_labeled: how many times each labeled doc is yielded per pass, so that labeled
        examples are not too rare in the batches. "auto": GAN-BERT's rule,
        max(1, int(log2(1 / labeled_fraction))) with labeled_fraction = labeled docs /
        (labeled + unlabeled docs used).
    seed: seeds the unlabeled subset and the order. With unlabeled docs, each pass
        (call of the corpus) is a new shuffle of the labeled and unlabeled examples,
        reproducible from `seed`: with training.max_epochs = -1 spaCy streams the corpus
        as given, so the labeled examples must not all come first.
    max_length: like spaCy's Corpus, docs longer than this many tokens are skipped (0: no
        limit); empty docs are always skipped. Counts above are after skipping.
    The predicted docs keep the corpus tokenization, as in TaggedCorpus.
    """
    if path is None:
        # As spaCy's Corpus: a config validates without paths; training needs them.
        raise ValueError("MixedCorpus: the labeled corpus path is not set; give it, e.g. --paths.train FILE.spacy")
    labeled_path = _existing_file(path, "labeled corpus")
    unlabeled_path = None if unlabeled is None or str(unlabeled) == "" else Path(unlabeled)
    if unlabeled_path is not None:
        unlabeled_path = _existing_file(unlabeled_path, "unlabeled text")
        if unlabeled_path.suffix.lower() not in UNLABELED_SUFFIXES:
            raise ValueError(
                f"MixedCorpus: unlabeled text must be {', '.join(UNLABELED_SUFFIXES)}; got {unlabeled_path}"
            )
    _check_repeat(repeat_labeled)
    if not unlabeled_per_labeled >= 0:
        raise ValueError(f"MixedCorpus: unlabeled_per_labeled must be >= 0, got {unlabeled_per_labeled}")
    if max_length < 0:
        raise ValueError(f"MixedCorpus: max_length must be >= 0 (0: no limit), got {max_length}")
    # Kept across calls: each pass is shuffled anew, in a sequence fixed by the seed.
    order_rng = random.Random(seed)

    def keep(doc: Doc) -> bool:
        return len(doc) > 0 and (max_length == 0 or len(doc) <= max_length)

    def read(nlp: Language) -> Iterator[Example]:
        labeled = [doc for doc in _read_labeled(labeled_path, nlp) if keep(doc)]
        if not labeled:
            raise ValueError(f"MixedCorpus: no labeled docs in {labeled_path} (max_length {max_length})")
        plain: List[Doc] = []
        if unlabeled_path is not None:
            plain = [doc for doc in _read_unlabeled(unlabeled_path, nlp) if keep(doc)]
        if unlabeled_per_labeled:
            limit = round(unlabeled_per_labeled * len(labeled))
            if limit < len(plain):
                chosen = sorted(random.Random(seed).sample(range(len(plain)), limit))
                plain = [plain[i] for i in chosen]
        repeats = labeled_repeats(repeat_labeled, len(labeled), len(plain))
        if plain:
            references = [doc for doc in labeled for _ in range(repeats)] + plain
            order_rng.shuffle(references)
        else:
            references = labeled * repeats  # file order, pass after pass
        for reference in references:
            yield Example(tokens_only(reference, nlp.vocab), reference)

    return read


def labeled_repeats(repeat_labeled: Union[int, str], n_labeled: int, n_unlabeled: int) -> int:
    """The number of times each labeled doc is yielded per pass (see create_mixed_corpus).

    "auto" is GAN-BERT's max(1, int(log2(1 / labeled_fraction))), computed in integers
    (floor(log2(x)) == floor(log2(floor(x))) for x >= 1) so exact powers of two do not
    depend on float rounding.
    """
    _check_repeat(repeat_labeled)
    if repeat_labeled != "auto":
        return int(repeat_labeled)
    if n_labeled < 1:
        raise ValueError("MixedCorpus: repeat_labeled 'auto' needs at least one labeled doc")
    return max(1, ((n_labeled + n_unlabeled) // n_labeled).bit_length() - 1)


def _check_repeat(repeat_labeled: Union[int, str]) -> None:
    is_count = isinstance(repeat_labeled, int) and not isinstance(repeat_labeled, bool) and repeat_labeled >= 1
    if repeat_labeled != "auto" and not is_count:
        raise ValueError(f"MixedCorpus: repeat_labeled must be an integer >= 1 or 'auto', got {repeat_labeled!r}")


def _existing_file(path: Union[str, Path], what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"MixedCorpus: the {what} {path} {problem}")
    return path


def _read_labeled(path: Path, nlp: Language) -> Iterator[Doc]:
    for i, doc in enumerate(DocBin().from_disk(path).get_docs(nlp.vocab), start=1):
        if not doc.has_annotation("ENT_IOB"):
            raise ValueError(
                f"MixedCorpus: doc {i} of the labeled corpus {path} has no entity annotation; "
                "unlabeled docs go in `unlabeled`"
            )
        yield doc


def _read_unlabeled(path: Path, nlp: Language) -> Iterator[Doc]:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return read_text(path, nlp)
    if suffix == ".jsonl":
        return read_jsonl(path, nlp)
    return (tokens_only(doc, nlp.vocab) for doc in DocBin().from_disk(path).get_docs(nlp.vocab))
