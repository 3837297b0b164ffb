"""Training corpora for spaCy configs: `spacy_lowner.TaggedCorpus.v1` reads the original
files, `spacy_lowner.MixedCorpus.v1` mixes a labeled DocBin with unlabeled text, and
`spacy_lowner.MultiCorpus.v1` reads several corpora, labeled or not, each with its domain."""
import random
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from ..corpora.convert import FORMATS, read_docs
from ..corpora.docs import tokens_only
from ..corpora.errors import CorpusFormatError, read_lines
from ..corpora.text import read_json_rows, read_jsonl, read_text
from ..errors import setting_error
from ..model.channels import set_domain

# The unlabeled inputs MixedCorpus reads (and `python -m spacy_lowner sample` writes).
UNLABELED_SUFFIXES = (".spacy", ".txt", ".jsonl")


@registry.readers("spacy_lowner.TaggedCorpus.v1")
def create_tagged_corpus(
    path: Path, format: str, lang: str = "", nam_only: bool = False, limit: int = 0, domain: str = ""
) -> Callable[[Language], Iterable[Example]]:
    """Read a weibo/conll/cluener/text/jsonl file (see corpora.convert.read_docs).

    lang: decides whether column-file words are joined by spaces; default the
        pipeline's language. limit: the first `limit` docs only (0: all).
    domain: if given, the `domain` channel of every doc (e.g. "source", "es"; model/channels.py).
    The predicted docs keep the corpus tokenization, like spaCy's gold_preproc.
    """

    reader = "TaggedCorpus"
    if format not in FORMATS:
        raise setting_error(reader, "format", f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    path = existing_file(reader, "path", path)

    def read(nlp: Language) -> Iterator[Example]:
        docs = read_docs(format, path, nlp, lang=lang or None, nam_only=nam_only)
        for doc in islice(docs, limit or None):
            # the domain first: the predicted doc carries it too, for a model that predicts by domain
            reference = set_domain(doc, domain) if domain else doc
            yield Example(tokens_only(reference, nlp.vocab), reference)

    return read


@registry.readers("spacy_lowner.MixedCorpus.v1")
def create_mixed_corpus(
    path: Optional[Path],
    unlabeled: Optional[Path] = None,
    unlabeled_per_labeled: float = 0.0,
    repeat_labeled: Union[int, str] = 1,
    seed: int = 0,
    max_length: int = 0,
    domain: str = "",
    unlabeled_domain: str = "",
) -> Callable[[Language], Iterable[Example]]:
    """A labeled DocBin mixed with unlabeled text, for semi-supervised training.

    path: the labeled DocBin (.spacy). Every doc must carry entity annotation (all-O docs
        do), so that `eg.reference.has_annotation("ENT_IOB")` tells labeled from unlabeled.
    unlabeled: unlabeled text, by suffix: .spacy (a DocBin; any entity annotation in it is
        removed, so it counts as unlabeled; a teacher's soft labels, as `pseudo-label --soft`
        writes them, are kept), .txt (a doc per non-empty line) or .jsonl
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
    domain, unlabeled_domain: if given, the `domain` channel (model/channels.py) of the labeled and
        of the unlabeled docs; otherwise the domain a DocBin's docs carry, if any.
    Batch with `spacy_lowner.labeled_share.v1` to give every batch the same labeled share.
    The predicted docs keep the corpus tokenization, as in TaggedCorpus.
    """
    reader = "MixedCorpus"
    if path is None:
        # As spaCy's Corpus: a config validates without paths; training needs them.
        raise setting_error(reader, "path", "the labeled corpus is not set; give it, e.g. --paths.train FILE.spacy")
    labeled_path = existing_file(reader, "path", path, (".spacy",))
    labeled_docs = _labeled_docbin(labeled_path)
    unlabeled_path = None if unlabeled is None or str(unlabeled) == "" else Path(unlabeled)
    if unlabeled_path is not None:
        unlabeled_path = existing_file(reader, "unlabeled", unlabeled_path, UNLABELED_SUFFIXES)
        if not _has_text(unlabeled_path):
            raise setting_error(
                reader, "unlabeled", f"{unlabeled_path} holds no text; give unlabeled text, or leave `unlabeled` empty"
            )
    try:
        _check_repeat(repeat_labeled)
    except ValueError as err:
        raise setting_error(reader, "repeat_labeled", str(err)) from None
    if not unlabeled_per_labeled >= 0:
        raise setting_error(reader, "unlabeled_per_labeled", f"must be >= 0, got {unlabeled_per_labeled}")
    if max_length < 0:
        raise setting_error(reader, "max_length", f"must be >= 0 (0: no limit), got {max_length}")
    # Kept across calls: each pass is shuffled anew, in a sequence fixed by the seed.
    order_rng = random.Random(seed)

    def keep(doc: Doc) -> bool:
        return len(doc) > 0 and (max_length == 0 or len(doc) <= max_length)

    def read(nlp: Language) -> Iterator[Example]:
        labeled = [doc for doc in labeled_docs.get_docs(nlp.vocab) if keep(doc)]
        if domain:
            labeled = [set_domain(doc, domain) for doc in labeled]
        if not labeled:
            raise ValueError(f"MixedCorpus: no labeled docs in {labeled_path} (max_length {max_length})")
        plain: List[Doc] = []
        if unlabeled_path is not None:
            plain = [doc for doc in read_unlabeled(unlabeled_path, nlp) if keep(doc)]
            if unlabeled_domain:
                plain = [set_domain(doc, unlabeled_domain) for doc in plain]
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


# The settings of a MultiCorpus corpus block besides `path`, with their defaults.
CORPUS_BLOCK_DEFAULTS: Dict[str, Any] = {"labeled": True, "format": "", "lang": "", "limit": 0, "repeat": 1, "labels": {}}
# Files read as unlabeled text when a corpus block gives no format.
TEXT_SUFFIXES = (".txt", ".jsonl")


class CorpusBlock(NamedTuple):
    """One corpus of spacy_lowner.MultiCorpus.v1, its settings checked."""

    domain: str  # the block's name
    path: Path
    labeled: bool
    format: str  # "": by suffix, a DocBin or unlabeled text
    lang: str
    limit: int
    repeat: int
    labels: Dict[str, str]  # the label bridge: the corpus's entity types onto the pipeline's ({}: as they are)


@registry.readers("spacy_lowner.MultiCorpus.v1")
def create_multi_corpus(
    corpora: Dict[str, Dict[str, Any]], seed: int = 0, shuffle: bool = True, max_length: int = 0
) -> Callable[[Language], Iterable[Example]]:
    """Several corpora in one run (a high-resource source and a few target sentences; labeled
    English and unlabeled Spanish; two languages), each doc marked with its corpus's domain.

    corpora: a block per corpus, whose name is the domain of its docs (the `domain` channel,
        model/channels.py; e.g. "source" and "target", or "en" and "zh"), with the settings
        path: a .spacy DocBin, a corpus file in `format`, or unlabeled text (.txt: a doc per
            non-empty line; .jsonl: {"text": ...} per line, both tokenized by the pipeline).
        labeled (default true): false removes any entity annotation from the reference docs
            (missing, not O), so that the corpus is unlabeled text. A labeled DocBin's docs
            must all carry entity annotation.
        format: weibo, conll, cluener, text or jsonl, read as TaggedCorpus reads them; empty
            (the default): by suffix, .spacy a DocBin, .txt and .jsonl unlabeled text. Give it
            for corpus files: CoNLL-2003's train.txt is a column file, not text.
        lang: whether column-file words are joined by spaces (zh, ja: not); default the
            pipeline's language.
        limit: only the first `limit` docs that max_length keeps (0: all).
        repeat: how many times each doc is yielded per pass (default 1).
        labels: the label bridge, a block renaming each entity type of the corpus to one of
            the pipeline's (CoNLL-2003's PER to WeiboNER's PER.NAM: configs/parts/
            label_bridge_conll_weibo.cfg); a type renamed to "" is dropped, its tokens'
            annotation missing. A type the corpus has and the block lacks is an error naming the
            file. Empty (the default): the types as they are.
    seed, shuffle: with shuffle (the default) each pass (call of the corpus) is a new shuffle of
        the docs of all corpora, in a sequence fixed by `seed`: with training.max_epochs = -1
        spaCy streams the corpus as given and initializes on its first 100 examples, which must
        not all come from the first corpus. shuffle = false: the corpora in the order given,
        each in file order (a dev set).
    max_length: docs longer than this many tokens are skipped (0: no limit); empty docs are
        always skipped. A corpus left with no docs is an error when it is read.
    The predicted docs keep the corpus tokenization and carry the domain too, so that a model
    that predicts by domain sees it in evaluation. Batch with `spacy_lowner.domain_share.v1`
    to give each domain its share of every batch.
    """
    reader = "MultiCorpus"
    if not corpora:
        raise setting_error(reader, "corpora", "no corpus given; add a block [corpora.<name>.corpora.<domain>] with a path")
    if max_length < 0:
        raise setting_error(reader, "max_length", f"must be >= 0 (0: no limit), got {max_length}")
    blocks = [corpus_block(domain, settings) for domain, settings in corpora.items()]
    # Kept across calls: each pass is shuffled anew, in a sequence fixed by the seed.
    order_rng = random.Random(seed)

    def read(nlp: Language) -> Iterator[Example]:
        references = [doc for block in blocks for doc in _block_references(block, nlp, max_length)]
        if shuffle:
            order_rng.shuffle(references)
        for reference in references:
            yield Example(tokens_only(reference, nlp.vocab), reference)

    return read


def corpus_block(domain: str, settings: Dict[str, Any]) -> CorpusBlock:
    """The block `corpora.<domain>` of a MultiCorpus, checked before training starts."""
    reader, where = "MultiCorpus", f"corpora.{domain}"
    if not isinstance(settings, dict):
        raise setting_error(reader, where, f"must be a block of settings (path, {', '.join(CORPUS_BLOCK_DEFAULTS)})")
    unknown = sorted(set(settings) - {"path", *CORPUS_BLOCK_DEFAULTS})
    if unknown:
        raise setting_error(
            reader, f"{where}.{unknown[0]}", f"unknown setting; a corpus takes path, {', '.join(CORPUS_BLOCK_DEFAULTS)}"
        )
    values = {**CORPUS_BLOCK_DEFAULTS, **settings}
    labeled, fmt = values["labeled"], values["format"]
    if not isinstance(labeled, bool):
        raise setting_error(reader, f"{where}.labeled", f"must be true or false, got {labeled!r}")
    if fmt not in ("", *FORMATS):
        raise setting_error(reader, f"{where}.format", f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not isinstance(values["lang"], str):
        raise setting_error(reader, f"{where}.lang", f"must be a language code such as \"en\", got {values['lang']!r}")
    for key, minimum in (("limit", 0), ("repeat", 1)):
        if isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < minimum:
            raise setting_error(reader, f"{where}.{key}", f"must be an integer >= {minimum}, got {values[key]!r}")
    if settings.get("path") is None or str(settings["path"]) == "":
        # As spaCy's Corpus: a config validates without paths; training needs them.
        raise setting_error(
            reader, f"{where}.path", "the corpus file is not set; give the paths variable it names, e.g. --paths.source FILE.spacy"
        )
    _check_label_bridge(where, values["labels"], labeled)
    path = existing_file(reader, f"{where}.path", settings["path"])
    _check_block_file(where, path, fmt, labeled)
    return CorpusBlock(domain, path, labeled, fmt, values["lang"], values["limit"], values["repeat"], dict(values["labels"]))


def _check_label_bridge(where: str, labels: Any, labeled: bool) -> None:
    """That a corpus block's `labels` renames entity types to types (or "" to drop them), and
    belongs to a labeled corpus."""
    reader = "MultiCorpus"
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise setting_error(
            reader, f"{where}.labels", f'must be a block of TYPE = "NEW_TYPE" (or "" to drop it), got {labels!r}'
        )
    if labels and not labeled:
        raise setting_error(reader, f"{where}.labels", "renames entity types, but the corpus is unlabeled (labeled = false)")


def bridge_labels(doc: Doc, labels: Dict[str, str]) -> Doc:
    """The doc with its entity types renamed by `labels` (the label bridge). An entity whose
    type is renamed to "" is dropped and its tokens' annotation made missing, neither O nor a
    type (the CRF sums over their tags). A type that `labels` lacks is a ValueError naming it."""
    unknown = sorted({ent.label_ for ent in doc.ents} - set(labels))
    if unknown:
        raise ValueError(
            f"entity type {unknown[0]!r} is not in the label bridge ({', '.join(labels)}); "
            'add it to the block, renamed to a type or to "" to drop it'
        )
    kept = [Span(doc, ent.start, ent.end, labels[ent.label_]) for ent in doc.ents if labels[ent.label_]]
    dropped = [ent for ent in doc.ents if not labels[ent.label_]]
    # "unmodified": tokens outside every entity keep their annotation (O, or missing already)
    doc.set_ents(kept, missing=dropped, default="unmodified")
    return doc


def _bridged(block: CorpusBlock, docs: Iterable[Doc]) -> Iterator[Doc]:
    """The block's docs through its label bridge, an unknown type a setting error naming the
    block, its file and the doc."""
    for i, doc in enumerate(docs, start=1):
        try:
            yield bridge_labels(doc, block.labels)
        except ValueError as err:
            raise setting_error("MultiCorpus", f"corpora.{block.domain}.labels", f"{block.path}: doc {i}: {err}") from None


def _check_block_file(where: str, path: Path, fmt: str, labeled: bool) -> None:
    """That the file of a corpus block can be read as its settings say: a file without a format is
    a DocBin or text, only a DocBin holds labels, and a labeled DocBin's docs carry them."""
    reader, suffix = "MultiCorpus", path.suffix.lower()
    if fmt and suffix == ".spacy":
        raise setting_error(reader, f"{where}.format", f"{path} is a DocBin, which takes no format; leave format empty")
    if not fmt and suffix not in UNLABELED_SUFFIXES:
        raise setting_error(
            reader, f"{where}.format", f"{path}: give its format ({', '.join(FORMATS)}), or a .spacy, .txt or .jsonl file"
        )
    if labeled and (fmt in ("text", "jsonl") or (not fmt and suffix in TEXT_SUFFIXES)):
        raise setting_error(
            reader,
            f"{where}.labeled",
            f"{path} is read as unlabeled text; set labeled = false, or give the format of a labeled corpus file",
        )
    if suffix == ".spacy":
        if labeled:
            _labeled_docbin(path, reader, f"{where}.path", "set labeled = false for a corpus without labels")
        else:
            _read_docbin(reader, f"{where}.path", path)
    elif not fmt and not _has_text(path, reader, f"{where}.path"):
        raise setting_error(reader, f"{where}.path", f"{path} holds no text")


def _block_references(block: CorpusBlock, nlp: Language, max_length: int) -> List[Doc]:
    """The reference docs of one corpus block for one pass: read, skipped by length, limited,
    given the block's domain, and repeated. A problem in the file is a setting error naming the
    block and the line, which `spacy train` prints as one block while it initializes."""
    setting = f"corpora.{block.domain}.path"
    docs = _bridged(block, _read_block(block, nlp)) if block.labels else _read_block(block, nlp)
    kept = (doc for doc in docs if len(doc) and (max_length == 0 or len(doc) <= max_length))
    try:
        references = [set_domain(doc, block.domain) for doc in islice(kept, block.limit or None)]
    except CorpusFormatError as err:
        raise setting_error("MultiCorpus", setting, str(err)) from None
    if not references:
        raise setting_error("MultiCorpus", setting, f"{block.path} gives no docs (max_length {max_length})")
    return references * block.repeat


def _read_block(block: CorpusBlock, nlp: Language) -> Iterator[Doc]:
    if not block.format:
        if block.labeled:
            return DocBin().from_disk(block.path).get_docs(nlp.vocab)
        return read_unlabeled(block.path, nlp)
    docs = read_docs(block.format, block.path, nlp, lang=block.lang or None)
    return docs if block.labeled else (tokens_only(doc) for doc in docs)


def existing_file(reader: str, setting: str, path: Union[str, Path], suffixes: Sequence[str] = ()) -> Path:
    """`path` as a Path, if it is a file with one of `suffixes` (any, if none are given)."""
    path = Path(path)
    if not path.exists():
        raise setting_error(reader, setting, f"{path} does not exist")
    if not path.is_file():
        raise setting_error(reader, setting, f"{path} is a folder, not a file")
    if suffixes and path.suffix.lower() not in suffixes:
        raise setting_error(reader, setting, f"{path} must be {', '.join(suffixes)}")
    return path


def _labeled_docbin(
    path: Path, reader: str = "MixedCorpus", setting: str = "path", hint: str = "unlabeled docs go in `unlabeled`"
) -> DocBin:
    """The labeled DocBin, checked before training starts: it loads, it holds docs, and each
    one carries entity annotation (`hint` says what to do with one that does not)."""
    docs = _read_docbin(reader, setting, path)
    for i, doc in enumerate(docs.get_docs(Vocab()), start=1):
        if not doc.has_annotation("ENT_IOB"):
            raise setting_error(reader, setting, f"doc {i} of {path} has no entity annotation; {hint}")
    return docs


def _read_docbin(reader: str, setting: str, path: Path) -> DocBin:
    """The DocBin at `path`, if it loads and holds docs."""
    try:
        docs = DocBin().from_disk(path)
    except ValueError as err:  # not a DocBin
        raise setting_error(reader, setting, f"{path}: {err}") from None
    if not len(docs):
        raise setting_error(reader, setting, f"{path} holds no docs")
    return docs


def _has_text(path: Path, reader: str = "MixedCorpus", setting: str = "unlabeled") -> bool:
    """Whether the unlabeled file (see read_unlabeled) holds any text, checked when the reader
    is created. A .txt or .jsonl file is read to its end (sum, not any), so that a bad line (not
    UTF-8, in .jsonl not an object with a "text") stops `spacy train` before training, naming
    its line, instead of raising from inside it."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            return sum(bool(line.strip()) for _, line in read_lines(path)) > 0
        if suffix == ".jsonl":
            return sum(bool(row["text"].strip()) for _, row in read_json_rows(path)) > 0
        return any(len(doc) for doc in DocBin().from_disk(path).get_docs(Vocab()))
    except CorpusFormatError as err:
        raise setting_error(reader, setting, str(err)) from None
    except ValueError as err:  # not a DocBin
        raise setting_error(reader, setting, f"{path}: {err}") from None


def read_unlabeled(path: Path, nlp: Language) -> Iterator[Doc]:
    """Unlabeled docs from .txt (a text per line), .jsonl ({"text": ...} per line) or .spacy
    (their tokens only: any annotation dropped, a teacher's soft labels and the domain kept)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return read_text(path, nlp)
    if suffix == ".jsonl":
        return read_jsonl(path, nlp)
    return (tokens_only(doc, nlp.vocab, keep_teacher=True) for doc in DocBin().from_disk(path).get_docs(nlp.vocab))
