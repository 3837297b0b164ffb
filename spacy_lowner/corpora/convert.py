"""Convert a corpus file to a spaCy DocBin, reporting what it contains."""
import pkgutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Union

import spacy
import spacy.lang
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..tools.outputs import check_file_output, check_outputs, write_files
from .cluener import DROPPED_SPANS_KEY, read_cluener
from .columns import read_conll, read_weibo
from .docs import make_doc
from .text import read_jsonl, read_text

FORMATS = ("weibo", "conll", "cluener", "text", "jsonl")
# The language of a format's data when none is given; text and jsonl need one.
DEFAULT_LANGS = {"weibo": "zh", "cluener": "zh", "conll": "xx"}
# Languages written without spaces between words: their column-file tokens are joined
# without spaces, so that doc.text is the original text.
UNSPACED_LANGS = ("zh", "ja")


@dataclass
class ConvertReport:
    docs: int = 0
    tokens: int = 0
    entities: Counter = field(default_factory=Counter)  # type -> number of entities
    dropped_nested: int = 0  # CLUENER spans dropped because a longer span overlaps them

    @property
    def n_entities(self) -> int:
        return sum(self.entities.values())

    def add(self, doc: Doc) -> None:
        self.docs += 1
        self.tokens += len(doc)
        self.entities.update(ent.label_ for ent in doc.ents)
        self.dropped_nested += len(doc.spans.get(DROPPED_SPANS_KEY, []))


def read_docs(
    fmt: str, path: Path, nlp: Language, *, lang: Optional[str] = None, nam_only: bool = False
) -> Iterator[Doc]:
    """Read the docs of a corpus file in one of FORMATS with `nlp`'s vocab.

    Labeled formats keep the corpus tokenization; `text` and `jsonl` are tokenized by
    `nlp`. lang (default `nlp.lang`) decides whether column-file words are joined by
    spaces. nam_only (weibo only): nominal mentions become O.
    Raises CorpusFormatError (as the docs are read) for a problem in the file.
    """
    path = Path(path)
    _check_options(fmt, nam_only)
    if fmt == "cluener":
        return read_cluener(path, nlp.vocab)
    if fmt == "text":
        return read_text(path, nlp)
    if fmt == "jsonl":
        return read_jsonl(path, nlp)
    if fmt == "weibo":
        sents, spaced = read_weibo(path, nam_only=nam_only), False
    else:
        sents, spaced = read_conll(path), (lang or nlp.lang) not in UNSPACED_LANGS
    return (make_doc(nlp.vocab, sent.words, sent.tags, spaced=spaced) for sent in sents)


def convert(
    fmt: str,
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    lang: Optional[str] = None,
    nam_only: bool = False,
    allow_empty: bool = False,
) -> ConvertReport:
    """Convert a corpus file to a DocBin at output_path (user data stored).

    lang: the pipeline language; defaults to zh for weibo and cluener and xx for
        conll, and is required for text and jsonl, which it tokenizes.
    allow_empty: write an empty DocBin for an input without documents (an error otherwise).
    The output may not be the input (outputs.check_outputs). It is written only once the
    whole input has been read, through a temporary file beside it, so an error leaves no
    output file and any old one untouched.
    """
    _check_options(fmt, nam_only)
    lang = lang or DEFAULT_LANGS.get(fmt)
    if lang is None:
        raise ValueError(f"The {fmt} format needs a language to tokenize with (lang, --lang).")
    input_path, output_path = Path(input_path), Path(output_path)
    check_outputs([output_path], [input_path])
    check_file_output(output_path)
    nlp = _blank_pipeline(lang)
    report = ConvertReport()
    doc_bin = DocBin(store_user_data=True)
    for doc in read_docs(fmt, input_path, nlp, nam_only=nam_only):
        doc_bin.add(doc)
        report.add(doc)
    if not report.docs and not allow_empty:
        raise ValueError(
            f"{input_path}: no documents (the file is empty or has blank lines only); "
            "nothing was written; --allow-empty (allow_empty=True) writes an empty DocBin"
        )
    write_files({output_path: doc_bin.to_bytes()})
    return report


def _blank_pipeline(lang: str) -> Language:
    """spacy.blank(lang), or a one-line ValueError: an unknown code is named beside the codes
    spaCy has; a language whose tokenizer needs a package that is not installed gets spaCy's
    advice (spaCy raises ImportError for both)."""
    try:
        return spacy.blank(lang)
    except ImportError as err:
        codes = _language_codes()
        if lang not in codes:
            raise ValueError(f"Unknown language {lang!r} (lang, --lang); use a spaCy language code: {', '.join(codes)}") from None
        raise ValueError(f"Cannot make a blank {lang!r} pipeline: {' '.join(str(err).split())}") from None


def _language_codes() -> List[str]:
    """The languages spaCy ships, a package each under spacy.lang."""
    return sorted(module.name for module in pkgutil.iter_modules(spacy.lang.__path__) if module.ispkg)


def _check_options(fmt: str, nam_only: bool) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"Unknown corpus format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    if nam_only and fmt != "weibo":
        raise ValueError("nam_only applies to the weibo format only.")
