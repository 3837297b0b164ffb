"""Readers for one-token-per-line column files: CoNLL-2002/2003, WNUT-17 and WeiboNER."""
from pathlib import Path
from typing import Iterator, List, NamedTuple, Optional

from .errors import CorpusFormatError, read_lines, shorten

DOCSTART = "-DOCSTART-"
# BIO, plus BIOES's E/S and BILUO's L/U: docs.to_iob2 decodes them all.
ENTITY_PREFIXES = ("B", "I", "E", "S", "L", "U")
# A WeiboNER token is its character (two U+FFFD for a broken emoji) followed by the
# character's position in its jieba word, in these digits.
_POSITION_DIGITS = "0123456789"
_NOMINAL = ".NOM"


class Sentence(NamedTuple):
    words: List[str]
    tags: List[str]
    # The line of the first token; sentences have no inner blank lines, so token i
    # is on line `line_no + i`.
    line_no: int


def read_conll(path: Path) -> Iterator[Sentence]:
    """Read the sentences of a column file: first column the word, last the NER tag.

    Columns are separated by TAB if the first token line contains one (WNUT-17,
    WeiboNER), otherwise by any run of whitespace (CoNLL). Every token line must have
    as many columns as the first one. Whitespace around the tag is dropped (a trailing
    space after a TAB must not make a new type). A sentence ends at a whitespace-only line
    (WNUT-17 train separates sentences with a lone TAB) and at a `-DOCSTART-` line,
    which is dropped: CoNLL-2002 Dutch does not follow it with a blank line.
    """
    separator: Optional[str] = None
    n_columns = 0
    words: List[str] = []
    tags: List[str] = []
    start = 0
    for line_no, line in read_lines(path):
        if not line.strip() or line.split(maxsplit=1)[0] == DOCSTART:
            if words:
                yield Sentence(words, tags, start)
            words, tags = [], []
            continue
        if not n_columns:
            separator = "\t" if "\t" in line else None
            n_columns = len(line.split(separator))
        fields = line.split(separator)
        if len(fields) != n_columns or n_columns < 2:
            raise CorpusFormatError(
                path, line_no, f"expected {max(n_columns, 2)} columns, found {len(fields)}"
            )
        # A tag never holds whitespace, so stripping it cannot change one; a TAB-separated
        # word can ("New York"), so it is kept as it is.
        word, tag = fields[0], fields[-1].strip()
        if not word:
            raise CorpusFormatError(path, line_no, "empty token")
        _check_tag(path, line_no, tag)
        if not words:
            start = line_no
        words.append(word)
        tags.append(tag)
    if words:
        yield Sentence(words, tags, start)


def read_weibo(path: Path, nam_only: bool = False) -> Iterator[Sentence]:
    """Read WeiboNER: character tokens without their position digits.

    Types such as `PER.NAM` are kept as they are; `nam_only` turns the nominal
    mentions (`*.NOM`) into O, the named-only variant some papers report.
    """
    for sent in read_conll(path):
        words = [_weibo_char(path, sent.line_no + i, token) for i, token in enumerate(sent.words)]
        tags = [_drop_nominal(tag) for tag in sent.tags] if nam_only else sent.tags
        yield Sentence(words, tags, sent.line_no)


def _check_tag(path: Path, line_no: int, tag: str) -> None:
    prefix, sep, label = tag.partition("-")
    has_type = bool(sep and label) and not any(char.isspace() for char in label)
    if tag != "O" and not (prefix in ENTITY_PREFIXES and has_type):
        raise CorpusFormatError(
            path,
            line_no,
            f"unknown NER tag {shorten(tag)}: expected O or B-, I-, E-, S-, L-, U- and a type without spaces",
        )


def _weibo_char(path: Path, line_no: int, token: str) -> str:
    """The character of a WeiboNER token: all but its trailing digits, or its first character
    if it is all digits ("20" is "2" at position 0). rstrip is linear in the token's length,
    where a regex that backtracks over a long run of digits was quadratic."""
    char = token.rstrip(_POSITION_DIGITS) or token[:1]
    if len(char) == len(token):
        raise CorpusFormatError(
            path, line_no, f"WeiboNER token {shorten(token)} is not a character followed by its position digits"
        )
    return char


def _drop_nominal(tag: str) -> str:
    return "O" if tag.endswith(_NOMINAL) else tag
