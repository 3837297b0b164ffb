import numpy
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.model.channels import doc_teacher


def test_writes_the_confident_docs_from_text(trained_pipeline, weibo_docs, tmp_path, monkeypatch):
    monkeypatch.setattr("spacy_lowner.cli.pseudo_label.PROGRESS_EVERY", 10)
    text = tmp_path / "raw.txt"
    text.write_text("".join(doc.text + "\n\n" for doc in weibo_docs[2]), encoding="utf8")
    output = tmp_path / "pseudo.spacy"
    result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(text), str(output), "-t", "0", "-m", "1"])
    assert result.exit_code == 0, result.output
    nlp = spacy.load(trained_pipeline)
    docs = list(DocBin().from_disk(output).get_docs(nlp.vocab))
    expected = [doc.text for doc in weibo_docs[2] if nlp(doc.text).ents]
    assert [doc.text for doc in docs] == expected
    assert f"Kept {len(expected)} of {len(weibo_docs[2])} docs" in result.output
    assert "docs tagged" in result.output  # progress on long inputs


def test_token_selection_keeps_partly_sure_docs_and_says_how_many_tokens_are_unknown(trained_pipeline, weibo_docs, tmp_path):
    raw = tmp_path / "raw.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(raw)
    kept = {}
    for select in ("doc", "token"):
        output = tmp_path / f"{select}.spacy"
        result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(raw), str(output), "-t", "0.9", "-m", "0", "--select", select])
        assert result.exit_code == 0, result.output
        kept[select] = list(DocBin().from_disk(output).get_docs(spacy.blank("zh").vocab))
    assert len(kept["token"]) > len(kept["doc"])
    unknown = sum(token.ent_iob_ == "" for doc in kept["token"] for token in doc)
    assert unknown and f"{unknown} unsure tokens of the kept docs left unknown" in result.output


def test_bad_input_is_one_line_and_exit_1(trained_pipeline, weibo_docs, tmp_path):
    raw = tmp_path / "raw.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(raw)
    cases = [  # (message, output, options)
        ("--outside must be one of O, missing", tmp_path / "a.spacy", ["--outside", "none"]),
        ("--select must be one of doc, token", tmp_path / "a.spacy", ["--select", "entity"]),
        ("OUTPUT must be a .spacy file", tmp_path / "a.txt", []),
        ("threshold must be in [0, 1]", tmp_path / "a.spacy", ["-t", "2"]),
        ("is the input", raw, []),
    ]
    for message, output, options in cases:
        result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(raw), str(output), *options])
        assert result.exit_code == 1, (message, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a.spacy").exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf8")
    result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(empty), str(tmp_path / "b.spacy")])
    assert result.exit_code == 1 and "holds no text" in result.output
    assert not (tmp_path / "b.spacy").exists()


def test_soft_writes_every_doc_unlabeled_with_the_marginals(trained_pipeline, weibo_docs, tmp_path):
    raw = tmp_path / "raw.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(raw)  # labeled: the entities must not come through
    output = tmp_path / "soft.spacy"
    result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(raw), str(output), "--soft"])
    assert result.exit_code == 0, result.output
    assert f"Soft-labeled {len(weibo_docs[2])} docs in {output}" in result.output
    nlp = spacy.load(trained_pipeline)
    tagger = nlp.get_pipe("lowner_ner")
    docs = list(DocBin().from_disk(output).get_docs(nlp.vocab))
    assert [doc.text for doc in docs] == [doc.text for doc in weibo_docs[2]]
    _, marginals = tagger.predict_with_marginals([tokens_only(doc) for doc in docs])  # the corpus tokenization
    for doc, expected in zip(docs, marginals):
        assert not doc.has_annotation("ENT_IOB")
        saved = doc_teacher(doc)
        assert list(saved["tags"]) == list(tagger.scheme.tags)
        numpy.testing.assert_allclose(saved["probs"].astype("float32").sum(1), 1.0, atol=1e-2)
        numpy.testing.assert_allclose(saved["probs"], expected, rtol=2**-11, atol=2**-24)


def test_soft_refuses_the_options_that_select_sure_docs(trained_pipeline, weibo_docs, tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("".join(doc.text + "\n" for doc in weibo_docs[2]), encoding="utf8")
    output = tmp_path / "soft.spacy"
    for options, flags in ((["-t", "0.9"], "--threshold"), (["--select", "doc", "-m", "0"], "--min-entities, --select")):
        result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(raw), str(output), "--soft", *options])
        assert result.exit_code == 1 and f"{flags}: not with --soft" in result.output, result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf8")
    result = CliRunner().invoke(app, ["pseudo-label", str(trained_pipeline), str(empty), str(output), "--soft"])
    assert result.exit_code == 1 and "empty.txt: there is no doc to soft-label" in result.output
    assert "Traceback" not in result.output and not output.exists()
