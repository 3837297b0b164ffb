"""Errors that point at a line of an input file, and the line reader that raises them."""
import codecs
from pathlib import Path
from typing import Iterator, Tuple, Union


class CorpusFormatError(ValueError):
    """A problem in an input corpus, reported as `path:line: message` like a compiler."""

    def __init__(self, path: Union[str, Path], line_no: int, message: str) -> None:
        super().__init__(path, line_no, message)
        self.path = Path(path)
        self.line_no = line_no
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.line_no}: {self.message}"


def shorten(value: str, limit: int = 40) -> str:
    """repr(value) for an error message, cut to about `limit` characters: a malformed line
    can hold a 100k-character field that must not be echoed whole."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def read_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Yield (1-based line number, line without its line break) of a UTF-8 file.

    Lines are decoded one at a time so that invalid UTF-8 is reported at its line. A byte
    order mark at the start of the file (editors on Windows write one) is not part of the text.
    """
    with Path(path).open("rb") as file_:
        for line_no, raw in enumerate(file_, start=1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                line = raw.decode("utf8")
            except UnicodeDecodeError as err:
                bad = raw[err.start : err.end]
                raise CorpusFormatError(
                    path, line_no, f"not valid UTF-8 (byte {bad!r} at column {err.start + 1})"
                ) from None
            yield line_no, line.rstrip("\r\n")
