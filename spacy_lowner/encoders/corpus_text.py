"""The running text of a corpus file, whose tokenizer pieces a trimmed e5 vocabulary keeps."""
from pathlib import Path
from typing import Iterable, Iterator, List

from .cjk import is_cjk


def read_corpus_texts(path: Path) -> Iterator[str]:
    """The texts of a corpus file, for vocabulary trimming:

    - `.spacy` (DocBin): each doc's text;
    - a column file (the first 50 non-blank lines all split into the same number, at least 2,
      of whitespace-separated fields; CoNLL style, `-DOCSTART-` lines skipped): per blank-line
      separated sentence, the first column joined with spaces, except that no space goes
      between two CJK characters (one-character-per-line Chinese files read as running text);
    - anything else: each non-blank line.

    The first column is taken as it is: WeiboNER's raw files append a position digit to each
    character, so pass their converted `.spacy` files (or plain text) instead.
    """
    path = Path(path)
    if path.suffix == ".spacy":
        yield from _docbin_texts(path)
        return
    lines = path.read_text(encoding="utf8").splitlines()
    if _is_column_file(lines):
        yield from _column_sentences(lines)
    else:
        yield from (line for line in lines if line.strip())


def _docbin_texts(path: Path) -> Iterator[str]:
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("xx").vocab
    for doc in DocBin().from_disk(path).get_docs(vocab):
        yield doc.text


def _is_column_file(lines: List[str]) -> bool:
    head = [line.split() for line in lines if line.strip()][:50]
    widths = {len(fields) for fields in head}
    return len(widths) == 1 and widths.pop() >= 2


def _column_sentences(lines: Iterable[str]) -> Iterator[str]:
    words: List[str] = []
    for line in list(lines) + [""]:
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            words.append(fields[0])
        elif not fields and words:
            yield _join_words(words)
            words = []


def _join_words(words: List[str]) -> str:
    text = words[0]
    for word in words[1:]:
        glue = "" if is_cjk(text[-1]) and is_cjk(word[0]) else " "
        text += glue + word
    return text
