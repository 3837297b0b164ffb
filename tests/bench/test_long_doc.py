"""`python -m bench long-doc`: one long doc through a pipeline, in a process of its own."""
import pytest
from spacy.tokens import DocBin
from typer.testing import CliRunner

from bench.cli import app
from bench.long_doc import LongDocRun, long_doc_table, long_text, read_text


def test_the_long_text_is_the_text_repeated_to_length():
    assert long_text("我们在北京\n", 14) == "我们在北京\n我们在北京\n我们"
    with pytest.raises(ValueError, match="empty"):
        long_text("", 10)


def test_the_text_comes_from_a_text_file_or_a_docbin(tmp_path, weibo_docs):
    docs = weibo_docs[2][:3]
    DocBin(docs=docs).to_disk(tmp_path / "dev.spacy")
    assert read_text(tmp_path / "dev.spacy") == "\n".join(doc.text for doc in docs)
    (tmp_path / "dev.conll").write_text("北\tO\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"dev.conll: give the text as a .txt, .jsonl, .spacy file"):
        read_text(tmp_path / "dev.conll")


def test_the_table_gives_what_the_doc_costs():
    table = long_doc_table([LongDocRun("p", 2000, 2000, 3, 1.5, loaded_mb=500.0, peak_mb=520.0)])
    assert "| p | 2,000 | 2,000 | 3 | 1.5 | 520 | 20 | 10.24 |" in table


def test_long_doc_command_measures_each_pipeline_in_its_own_process(trained_pipeline, weibo_docs, tmp_path):
    text = tmp_path / "dev.txt"
    text.write_text("\n".join(doc.text for doc in weibo_docs[2]), encoding="utf8")
    result = CliRunner().invoke(app, ["long-doc", str(trained_pipeline), "--text", str(text), "--chars", "20000"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith(f"| {trained_pipeline} |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:3] == ["20,000", "20,000"]  # one token per character
    assert float(cells[4]) > 0 and float(cells[5].replace(",", "")) >= float(cells[6].replace(",", "")) >= 0
    result = CliRunner().invoke(app, ["long-doc", str(trained_pipeline), "--text", str(text), "--chars", "0"])
    assert result.exit_code == 1 and "--chars must be at least 1" in result.output
