from pathlib import Path

import pytest
import typer
from click.testing import CliRunner
from spacy.tokens import DocBin

from spacy_lowner.cli import app

runner = CliRunner()
# Always a group, even while `convert` is the only command (typer would collapse it).
cli = typer.main.get_group(app)


def test_help():
    result = runner.invoke(cli, ["convert", "--help"])
    assert result.exit_code == 0
    for word in ("weibo", "conll", "cluener", "text", "jsonl", "--lang", "--nam-only"):
        assert word in result.output


def test_convert_weibo_summary(weibo_dir, tmp_path):
    output = tmp_path / "dev.spacy"
    result = runner.invoke(cli, ["convert", "weibo", str(weibo_dir / "weiboNER_2nd_conll.dev"), str(output), "--nam-only"])
    assert result.exit_code == 0, result.output
    assert "Wrote 270 docs, 14509 tokens, 169 entities" in result.output
    assert "PER.NAM" in result.output and "PER.NOM" not in result.output
    assert len(DocBin().from_disk(output)) == 270


def test_convert_reports_dropped_nested_spans(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('{"text": "《招商银行》", "label": {"book": {"《招商银行》": [[0, 5]]}, "company": {"招商银行": [[1, 4]]}}}\n', encoding="utf8")
    result = runner.invoke(cli, ["convert", "cluener", str(path), str(tmp_path / "rows.spacy")])
    assert result.exit_code == 0, result.output
    assert "Dropped 1 span(s)" in result.output


@pytest.mark.parametrize(
    "args,content,line_no,message",
    [
        (["conll"], b"a X O\nb O\n", 2, "expected 3 columns, found 2"),
        (["conll"], b"a O\nb Z-PER\n", 2, "unknown NER tag 'Z-PER'"),
        (["weibo"], "北0\tO\n\n京\tO\n".encode("utf8"), 3, "WeiboNER token '京'"),
        (["cluener"], b'{"text": "a"}\n{"text": "b",}\n', 2, "invalid JSON"),
        (["text", "--lang", "en"], b"fine\n\nnot \xe9 utf-8\n", 3, "not valid UTF-8"),
    ],
)
def test_format_error_exits_1_without_output(tmp_path, args, content, line_no, message):
    path = tmp_path / "bad.input"
    path.write_bytes(content)
    output = tmp_path / "bad.spacy"
    result = runner.invoke(cli, ["convert", args[0], str(path), str(output), *args[1:]])
    assert result.exit_code == 1
    assert f"{path}:{line_no}: " in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not output.exists()


def test_missing_language_exits_1(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("hello\n", encoding="utf8")
    result = runner.invoke(cli, ["convert", "jsonl", str(path), str(tmp_path / "raw.spacy")])
    assert result.exit_code == 1
    assert "needs a language" in result.output


def test_equal_spans_are_reported_as_equal(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('{"text": "招商银行", "label": {"company": {"招商银行": [[0, 3]]}, "organization": {"招商银行": [[0, 3]]}}}\n', encoding="utf8")
    result = runner.invoke(cli, ["convert", "cluener", str(path), str(tmp_path / "rows.spacy")])
    assert result.exit_code == 0, result.output
    assert "the first listed among equally long ones" in " ".join(result.output.split())


@pytest.mark.parametrize("spelling", ["{input}", "{folder}/../in/w.txt", "./{folder}/w.txt"])
def test_output_equal_to_input_is_refused(tmp_path, weibo_dir, spelling, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "w.txt"
    original = (weibo_dir / "weiboNER_2nd_conll.dev").read_bytes()
    source.write_bytes(original)
    output = spelling.format(input=source, folder="in")
    result = runner.invoke(cli, ["convert", "weibo", str(source), output])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is the input" in result.output
    assert source.read_bytes() == original


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_input_without_documents_needs_allow_empty(tmp_path, content):
    path, output = tmp_path / "empty.conll", tmp_path / "out.spacy"
    path.write_bytes(content)
    output.write_bytes(b"old")
    result = runner.invoke(cli, ["convert", "conll", str(path), str(output)])
    assert result.exit_code == 1
    assert "no documents" in result.output and "--allow-empty" in result.output
    assert output.read_bytes() == b"old"
    result = runner.invoke(cli, ["convert", "conll", str(path), str(output), "--allow-empty"])
    assert result.exit_code == 0, result.output
    assert len(DocBin().from_disk(output)) == 0


def test_output_below_a_file_is_one_line(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("a O\n", encoding="utf8")
    (tmp_path / "notes").write_text("", encoding="utf8")
    result = runner.invoke(cli, ["convert", "conll", str(path), str(tmp_path / "notes" / "out.spacy")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{tmp_path / 'notes'} is a file, not a folder" in result.output


def test_long_fields_are_cut_in_errors(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("北0\tO\n" + "京" * 100_000 + "\tO\n", encoding="utf8")
    result = runner.invoke(cli, ["convert", "weibo", str(path), str(tmp_path / "w.spacy")])
    assert result.exit_code == 1
    assert f"{path}:2: " in result.output
    assert "(100000 characters)" in result.output
    assert len(result.output) < 500


def error_line(result, start):
    """The one line of a failed command's output that holds `start`, and no traceback."""
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if start in line]
    return line


def test_unknown_language_is_one_line(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("hello\n", encoding="utf8")
    result = runner.invoke(cli, ["convert", "text", str(path), str(tmp_path / "raw.spacy"), "--lang", "klingon"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert ", xx, yo, zh" in error_line(result, "Unknown language 'klingon' (lang, --lang); use a spaCy language code: af, ")
    assert not (tmp_path / "raw.spacy").exists()


@pytest.mark.parametrize("source,line_no", [("/dev/zero", 1), ("binary", 1), ("nul_line", 2)])
def test_input_that_is_not_text_is_one_line_with_its_line(tmp_path, source, line_no):
    if source == "/dev/zero":
        if not Path("/dev/zero").exists():
            pytest.skip("needs /dev/zero")
        path = Path(source)  # endless: it must be refused, not read forever
    else:
        path = tmp_path / "input.txt"
        path.write_bytes(bytes(range(256)) * 64 if source == "binary" else "北京\n上\x00海\n".encode("utf8"))
    result = runner.invoke(cli, ["convert", "text", str(path), str(tmp_path / "out.spacy"), "--lang", "zh"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "not a text file" in error_line(result, f"{path}:{line_no}: NUL byte at column ")
    assert not (tmp_path / "out.spacy").exists()
