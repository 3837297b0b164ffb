"""`spacy_lowner.TaggedCorpus.v1`: a training corpus read straight from the original files."""
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .convert import read_docs


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
            words = [token.text for token in doc]
            spaces = [bool(token.whitespace_) for token in doc]
            yield Example(Doc(nlp.vocab, words=words, spaces=spaces), doc)

    return read
