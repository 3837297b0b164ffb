import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.model.channels import doc_teacher
from spacy_lowner.training.picking import (
    TeacherPass,
    language_independence,
    pick,
    teacher_pass,
    top_rho,
    write_picked,
)
from spacy_lowner.training.readers import read_unlabeled
from tests.teachers import train_teacher

TAGS = ("O", "B-PER", "I-PER")


@pytest.fixture(scope="module")
def teachers(tmp_path_factory, weibo_docs, small_cnn):
    folder = tmp_path_factory.mktemp("teachers")
    return [train_teacher(folder / f"seed{seed}", weibo_docs, small_cnn, seed=seed) for seed in (0, 1)]


def rows(*top: float) -> numpy.ndarray:
    """A doc's (n_tokens, 3) distributions: the top tag (O) at the given probability, the rest spread."""
    return numpy.array([[p, (1 - p) / 2, (1 - p) / 2] for p in top], dtype="float32")


def hand_made_docs(n: int) -> list:
    vocab = spacy.blank("en").vocab
    return [Doc(vocab, words=["tok", "en"]) for _ in range(n)]


def test_the_top_rho_by_language_independence_are_kept():
    p = [0.5, 0.1, 0.45, 0.9, 0.7, numpy.nan]  # scores 1, 0.6, 0.95, 0.6, 0.8; the last doc is empty
    assert language_independence(p)[:5] == pytest.approx([1.0, 0.6, 0.95, 0.6, 0.8])
    assert top_rho(language_independence(p), 0.8).tolist() == [0, 1, 2, 4]  # 4 of 5; the tie at 0.6 to the earlier doc
    assert top_rho(language_independence(p), 0.4).tolist() == [0, 2]
    assert top_rho(language_independence(p), 1.0).tolist() == [0, 1, 2, 3, 4]
    assert len(top_rho([0.5] * 100, 0.29)) == 29  # 0.29 * 100 is 28.999... in floats
    with pytest.raises(ValueError, match=r"rho must be in \(0, 1\]"):
        top_rho(p, 0.0)


def test_each_doc_takes_the_surer_teachers_labels_and_that_teachers_score():
    docs = hand_made_docs(4)
    surer_first = [rows(0.9, 0.9), rows(0.8, 0.9), rows(0.4, 0.5), rows(0.6, 0.6)]
    surer_second = [rows(0.6, 0.6), rows(0.7, 0.7), rows(0.9, 0.8), rows(0.9, 0.9)]
    first = TeacherPass(surer_first, [0.5, 0.0, 0.9, 0.9])
    second = TeacherPass(surer_second, [0.0, 0.5, 0.5, 0.1])
    # chosen: first, first, second, second -> p 0.5, 0.0, 0.5, 0.1 -> scores 1, 0.5, 1, 0.6
    picked, report = pick(docs, [first, second], TAGS, rho=0.5)
    assert report.picked == 2 and report.by_teacher == [1, 1]
    for doc, expected in zip(picked, [surer_first[0], surer_second[2]]):
        numpy.testing.assert_allclose(doc_teacher(doc)["probs"].astype("float32"), expected, atol=1e-3)
    assert report.cut == pytest.approx(1.0) and report.mean_left_out == pytest.approx(0.05)


def test_soft_labels_survive_a_docbin_and_the_reader(tmp_path):
    docs = hand_made_docs(3)
    marginals = [rows(0.9, 0.3), rows(0.5, 0.6), rows(0.99, 0.01)]
    picked, _ = pick(docs, [TeacherPass(marginals, [0.5, 0.5, 0.5])], TAGS, rho=1.0)
    path = tmp_path / "picked.spacy"
    DocBin(docs=picked, store_user_data=True).to_disk(path)
    nlp = spacy.blank("en")
    read = list(read_unlabeled(path, nlp))
    assert [doc.text for doc in read] == [doc.text for doc in docs]
    for doc, expected in zip(read, marginals):
        saved = doc_teacher(doc)
        assert list(saved["tags"]) == list(TAGS)
        numpy.testing.assert_allclose(saved["probs"].astype("float32"), expected, atol=1e-3)
        assert not doc.has_annotation("ENT_IOB")  # soft labels only: nothing counts as gold


def test_a_trained_teacher_picks_by_its_discriminator_and_writes_its_marginals(teachers, weibo_docs, tmp_path):
    nlp = spacy.load(teachers[0])
    docs = [tokens_only(doc, nlp.vocab) for doc in weibo_docs[2]] + [Doc(nlp.vocab, words=[])]
    tagged = teacher_pass(nlp, docs)
    assert numpy.isnan(tagged.source_probability[-1])
    assert all(0 <= p <= 1 for p in tagged.source_probability[:-1])
    report = write_picked([nlp], docs, tmp_path / "picked.spacy", rho=0.5)
    written = list(DocBin().from_disk(tmp_path / "picked.spacy").get_docs(nlp.vocab))
    expected = top_rho(language_independence(tagged.source_probability), 0.5)
    assert report.picked == len(written) == len(expected) == len(weibo_docs[2]) // 2 and report.empty == 1
    assert [doc.text for doc in written] == [docs[i].text for i in expected]
    for doc, i in zip(written, expected):
        numpy.testing.assert_allclose(doc_teacher(doc)["probs"].astype("float32"), tagged.marginals[i], atol=1e-3)


def test_two_teachers_write_the_surer_ones_labels(teachers, weibo_docs, tmp_path):
    nlps = [spacy.load(path) for path in teachers]
    docs = [tokens_only(doc, nlps[0].vocab) for doc in weibo_docs[2]]
    passes = [teacher_pass(nlp, docs) for nlp in nlps]
    report = write_picked(nlps, docs, tmp_path / "picked.spacy", rho=1.0)
    written = list(DocBin().from_disk(tmp_path / "picked.spacy").get_docs(nlps[0].vocab))
    assert len(written) == len(docs) and sum(report.by_teacher) == len(docs)
    assert all(report.by_teacher)  # each teacher is the surer one on some docs
    for i, doc in enumerate(written):
        surer = int(numpy.argmax([teacher.sureness[i] for teacher in passes]))
        numpy.testing.assert_allclose(doc_teacher(doc)["probs"].astype("float32"), passes[surer].marginals[i], atol=1e-3)


def test_a_pipeline_without_the_discriminator_is_refused(trained_pipeline, weibo_docs, tmp_path):
    nlp = spacy.load(trained_pipeline)
    with pytest.raises(ValueError, match="no language_adversarial objective"):
        write_picked([nlp], weibo_docs[2], tmp_path / "picked.spacy")
    assert not (tmp_path / "picked.spacy").exists()
