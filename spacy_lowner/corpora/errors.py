"""Errors that point at a line of an input file, and the line reader that raises them."""
import codecs
import re
from pathlib import Path
from typing import Iterator, List, Tuple, Union

# Bytes read at a time: lines are cut out of chunks, so that a file without line breaks
# (a binary file, /dev/zero) is refused at its first NUL byte instead of read whole.
_CHUNK_BYTES = 1 << 16
# LF, CRLF and a lone CR (classic Mac OS), the line breaks of Python's universal newlines.
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


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
    """Yield (1-based line number, line without its line break) of a UTF-8 text file.

    Lines are decoded one at a time so that invalid UTF-8 is reported at its line. A byte
    order mark at the start of the file (editors on Windows write one) is not part of the text.
    A line ends at LF, CRLF or a lone CR, so that a file with CR-only line endings is not read
    as one line. A NUL byte, which no text holds, is reported at its line as not text.
    """
    for line_no, raw in enumerate(_raw_lines(Path(path)), start=1):
        if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        nul = raw.find(b"\0")
        if nul >= 0:
            raise CorpusFormatError(path, line_no, f"NUL byte at column {nul + 1}: this is not a text file")
        try:
            line = raw.decode("utf8")
        except UnicodeDecodeError as err:
            bad = raw[err.start : err.end]
            raise CorpusFormatError(
                path, line_no, f"not valid UTF-8 (byte {bad!r} at column {err.start + 1})"
            ) from None
        yield line_no, line


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The lines of a file as bytes, without their line breaks (see read_lines). Reading stops
    after the first NUL byte: its line is the last one, so an endless file ends too."""
    line: List[bytes] = []  # the pieces of the line that the chunks read so far leave open
    after_cr = False
    with path.open("rb") as file_:
        for chunk in iter(lambda: file_.read(_CHUNK_BYTES), b""):
            if after_cr and chunk.startswith(b"\n"):
                chunk = chunk[1:]  # the LF of a CRLF that two chunks split
            nul = chunk.find(b"\0")
            if nul >= 0:
                chunk = chunk[: nul + 1]
            after_cr = chunk.endswith(b"\r")
            *ended, rest = _LINE_BREAK.split(chunk)
            for piece in ended:
                yield b"".join(line + [piece])
                line = []
            line.append(rest)
            if nul >= 0:
                break
    if any(line):
        yield b"".join(line)
