"""The line reader every corpus reader uses (spacy_lowner/corpora/errors.py)."""
import codecs
import os
import random
import re
from pathlib import Path

import pytest

from spacy_lowner.corpora import errors
from spacy_lowner.corpora.errors import CorpusFormatError, read_lines


def lines_of(path: Path):
    return list(read_lines(path))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lf_crlf_and_lone_cr_end_a_line(tmp_path, newline):
    path = tmp_path / "text.txt"
    path.write_bytes(newline.join(["北京", "", "上海", ""]).encode("utf8"))
    assert lines_of(path) == [(1, "北京"), (2, ""), (3, "上海")]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7])
def test_lines_do_not_depend_on_where_reads_cut_the_file(tmp_path, monkeypatch, chunk_bytes):
    # Mixed line endings, a CRLF that a read may split, and a last line without a break.
    rng = random.Random(chunk_bytes)
    pieces = [rng.choice(["ab", "北", "", "\r", "\n", "\r\n", "\r\r\n"]) for _ in range(300)] + ["end"]
    text = "".join(pieces)
    path = tmp_path / "mixed.txt"
    path.write_bytes(text.encode("utf8"))
    monkeypatch.setattr(errors, "_CHUNK_BYTES", chunk_bytes)
    expected = re.split(r"\r\n|\r|\n", text)
    assert [line for _, line in read_lines(path)] == expected
    assert [line_no for line_no, _ in read_lines(path)] == list(range(1, len(expected) + 1))


def test_a_byte_order_mark_is_dropped_from_the_first_line_only(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + "a\r".encode("utf8") + codecs.BOM_UTF8 + b"b\r")
    assert lines_of(path) == [(1, "a"), (2, "\ufeffb")]


@pytest.mark.parametrize(
    "content,line_no,message",
    [
        (b"fine\r\xe9t\xe9\r", 2, r"not valid UTF-8 \(byte b'\\xe9' at column 1\)"),
        (b"fine\nstill fine\nab\x00cd\n", 3, "NUL byte at column 3: this is not a text file"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4, 1, "NUL byte at column 8"),  # a binary file
        (b"\x00" * (1 << 20), 1, "NUL byte at column 1"),  # NUL-filled, with no line break
    ],
)
def test_input_that_is_not_text_is_refused_at_its_line(tmp_path, content, line_no, message):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError, match=rf"^{re.escape(str(path))}:{line_no}: {message}"):
        lines_of(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_input_is_refused_not_read_forever():
    with pytest.raises(CorpusFormatError, match="^/dev/zero:1: NUL byte at column 1"):
        lines_of(Path("/dev/zero"))
