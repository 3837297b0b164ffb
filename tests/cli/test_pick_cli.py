import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.model.channels import doc_teacher
from tests.teachers import train_teacher


@pytest.fixture(scope="module")
def teachers(tmp_path_factory, weibo_docs, small_cnn):
    folder = tmp_path_factory.mktemp("teachers")
    return [train_teacher(folder / f"seed{seed}", weibo_docs, small_cnn, seed=seed) for seed in (0, 1)]


@pytest.fixture
def text(weibo_docs, tmp_path):
    path = tmp_path / "target.txt"
    path.write_text("".join(doc.text + "\n" for doc in weibo_docs[2]), encoding="utf8")
    return path


def test_picks_the_top_rho_of_the_text_with_soft_labels(teachers, text, weibo_docs, tmp_path, monkeypatch):
    monkeypatch.setattr("spacy_lowner.cli.pick.PROGRESS_EVERY", 10)
    output = tmp_path / "picked.spacy"
    result = CliRunner().invoke(app, ["pick", str(teachers[0]), str(teachers[1]), str(text), str(output), "--rho", "0.5"])
    assert result.exit_code == 0, result.output
    n = len(weibo_docs[2])
    nlp = spacy.load(teachers[0])
    docs = list(DocBin().from_disk(output).get_docs(nlp.vocab))
    assert len(docs) == n // 2
    assert f"Picked {n // 2} of {n} docs in {output}" in result.output
    assert f"teacher 1/2: {n} docs tagged" in result.output and f"teacher 2/2: {n} docs tagged" in result.output
    assert "labels by teacher:" in result.output
    tags = nlp.get_pipe("lowner_ner").scheme.tags
    assert all(list(doc_teacher(doc)["tags"]) == list(tags) and len(doc_teacher(doc)["probs"]) == len(doc) for doc in docs)
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)


def test_bad_input_is_one_line_and_exit_1(teachers, trained_pipeline, text, weibo_docs, tmp_path):
    raw = tmp_path / "raw.spacy"
    DocBin(docs=weibo_docs[2]).to_disk(raw)
    cases = [  # (message, arguments)
        ("give at least one TEACHER, then INPUT and OUTPUT", [str(text), str(tmp_path / "a.spacy")]),
        ("--rho must be in (0, 1], got 1.5", [str(teachers[0]), str(text), str(tmp_path / "a.spacy"), "--rho", "1.5"]),
        ("OUTPUT must be a .spacy file", [str(teachers[0]), str(text), str(tmp_path / "a.txt")]),
        ("is the input", [str(teachers[0]), str(raw), str(raw)]),
        (f"{trained_pipeline}: its lowner_ner component was trained with no language_adversarial objective", [str(trained_pipeline), str(text), str(tmp_path / "a.spacy")]),
        ("Cannot load the pipeline", [str(tmp_path / "nothing"), str(text), str(tmp_path / "a.spacy")]),
    ]
    for message, arguments in cases:
        result = CliRunner().invoke(app, ["pick", *arguments])
        assert result.exit_code == 1, (message, result.output)
        assert message in result.output and "Traceback" not in result.output, (message, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "a.spacy").exists() and not (tmp_path / "a.txt").exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf8")
    result = CliRunner().invoke(app, ["pick", str(teachers[0]), str(empty), str(tmp_path / "b.spacy")])
    assert result.exit_code == 1 and "no doc is picked: 0 docs" in result.output
    assert not (tmp_path / "b.spacy").exists()
