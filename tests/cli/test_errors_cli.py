import json
import re
from pathlib import Path

import pytest
import spacy
import torch
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.model.scoring import score_entities


def test_page_and_json_agree_with_the_scorer(trained_pipeline, weibo_docs, tmp_path):
    dev = tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(dev)
    page, figures = tmp_path / "errors.html", tmp_path / "errors.json"
    result = CliRunner().invoke(app, ["errors", str(trained_pipeline), str(dev), str(page), "--json", str(figures), "--limit", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(figures.read_text(encoding="utf8"))
    nlp = spacy.load(trained_pipeline)
    gold = list(DocBin().from_disk(dev).get_docs(nlp.vocab))
    expected = score_entities([Example(p, g) for p, g in zip(nlp.pipe(nlp.make_doc(d.text) for d in gold), gold)])
    assert expected["ents_f"] == pytest.approx(nlp.evaluate([Example(nlp.make_doc(d.text), d) for d in gold])["ents_f"])
    for key in ("ents_p", "ents_r", "ents_f"):
        assert data["scores"][key] == pytest.approx(expected[key])
    text = page.read_text(encoding="utf8")
    assert f"F1 {100 * expected['ents_f']:.2f}" in text
    assert "right type, wrong boundary" in text and "Label confusion" in text
    assert text.count("class='doc'") == min(5, data["docs_with_errors"])
    # opens offline: no script, no external resource
    assert not re.search(r"https?://|<script|src=|href=|url\(", text)


def test_unlabeled_or_empty_data_is_a_clear_error(trained_pipeline, weibo_docs, tmp_path):
    from spacy_lowner.corpora.docs import tokens_only

    unlabeled, empty = tmp_path / "plain.spacy", tmp_path / "empty.spacy"
    DocBin(docs=[tokens_only(d) for d in weibo_docs[2]]).to_disk(unlabeled)
    DocBin().to_disk(empty)
    for path, message in ((unlabeled, "has no entity annotation"), (empty, "holds no documents")):
        result = CliRunner().invoke(app, ["errors", str(trained_pipeline), str(path), str(tmp_path / "out.html")])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert message in result.output
    assert not (tmp_path / "out.html").exists()


def test_a_corpus_file_is_read_with_format(trained_pipeline, weibo_dir, tmp_path):
    result = CliRunner().invoke(
        app, ["errors", str(trained_pipeline), str(weibo_dir / "weiboNER_2nd_conll.dev"), str(tmp_path / "dev.html"), "--format", "weibo"]
    )
    assert result.exit_code == 0, result.output
    assert "270 docs" in result.output


def one_error_line(result):
    """The failed command's output, which must be one line and no traceback."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    return line


@pytest.fixture
def dev_docbin(weibo_docs, tmp_path):
    path = tmp_path / "dev.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(path)
    return path


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_a_limit_below_one_is_refused(trained_pipeline, dev_docbin, tmp_path, limit):
    # --limit -5 used to draw all documents but the last 5.
    page = tmp_path / "errors.html"
    result = CliRunner().invoke(app, ["errors", str(trained_pipeline), str(dev_docbin), str(page), "--limit", limit])
    assert f"--limit must be at least 1, got {limit}" in one_error_line(result)
    assert not page.exists()


def test_a_gpu_that_cannot_be_used_is_one_line(trained_pipeline, dev_docbin, tmp_path):
    # No machine has a GPU 4096: without CuPy or a GPU, and with one, this id cannot be used.
    page = tmp_path / "errors.html"
    result = CliRunner().invoke(app, ["errors", str(trained_pipeline), str(dev_docbin), str(page), "--gpu-id", "4096"])
    assert "Cannot use GPU 4096 (--gpu-id): " in one_error_line(result)
    assert not page.exists()


def test_a_diverged_model_is_one_line(trained_pipeline, dev_docbin, tmp_path):
    nlp = spacy.load(trained_pipeline)
    with torch.no_grad():
        nlp.get_pipe("lowner_ner").head.emission.bias.fill_(float("nan"))
    diverged, page = tmp_path / "diverged", tmp_path / "errors.html"
    nlp.to_disk(diverged)
    result = CliRunner().invoke(app, ["errors", str(diverged), str(dev_docbin), str(page)])
    assert f"{diverged}: lowner_ner: the model gives non-finite tag scores" in one_error_line(result)
    assert not page.exists()


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_data_that_is_not_a_regular_file_is_refused(trained_pipeline, tmp_path):
    # A device passes typer's exists check; /dev/zero would be read as a DocBin without end.
    result = CliRunner().invoke(app, ["errors", str(trained_pipeline), "/dev/null", str(tmp_path / "errors.html")])
    assert "/dev/null is not a regular file" in one_error_line(result)
