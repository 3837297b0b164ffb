import numpy
import pytest
import spacy
import torch
from spacy.tokens import DocBin
from spacy.training import Corpus

from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import doc_domain, doc_teacher, set_domain
from spacy_lowner.training.pseudo_labels import find_tagger, pseudo_label, soft_label, sure_tokens, write_soft_labels
from spacy_lowner.training.readers import create_mixed_corpus


@pytest.fixture(scope="module")
def nlp(trained_pipeline):
    return spacy.load(trained_pipeline)


@pytest.fixture(scope="module")
def texts(weibo_docs):
    return [doc.text for doc in weibo_docs[2]]


def test_a_token_is_sure_when_its_decoded_tag_is_probable_enough():
    marginals = numpy.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.05, 0.05, 0.9]])
    assert sure_tokens(marginals, numpy.array([0, 1, 2]), 0.7).tolist() == [True, True, True]
    # the decoded tag's probability, not the token's largest one
    assert sure_tokens(marginals, numpy.array([0, 0, 2]), 0.7).tolist() == [True, False, True]
    assert sure_tokens(numpy.zeros((0, 3)), numpy.zeros(0, dtype=int), 0.5).tolist() == []


def test_marginals_are_distributions_in_the_scheme_order(nlp, texts):
    tagger = nlp.get_pipe("lowner_ner")
    docs = [nlp.make_doc(text) for text in texts[:5]] + [nlp.make_doc("")]
    tag_ids, marginals = tagger.predict_with_marginals(docs)
    assert [ids.tolist() for ids in tag_ids] == [ids.tolist() for ids in tagger.predict(docs)]
    for doc, rows in zip(docs, marginals):
        assert rows.shape == (len(doc), len(tagger.scheme.tags))
    assert numpy.allclose(numpy.concatenate(marginals[:5]).sum(1), 1.0, atol=1e-5)


def test_everything_kept_at_threshold_zero_is_what_the_pipeline_predicts(nlp, texts):
    kept, report = pseudo_label(nlp, (nlp.make_doc(t) for t in texts), threshold=0.0, min_entities=0)
    assert report.docs == report.kept == len(texts) == len(kept)
    for doc, text in zip(kept, texts):
        predicted = nlp(text)
        assert [t.text for t in doc] == [t.text for t in predicted]
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in predicted.ents]
        assert all(token.ent_iob_ in ("B", "I", "O") for token in doc)  # every token annotated
    assert sum(report.entities.values()) == sum(len(doc.ents) for doc in kept)


def test_only_sure_docs_with_enough_entities_are_kept(nlp, texts):
    tagger = nlp.get_pipe("lowner_ner")
    docs = list(nlp.pipe(texts, disable=["lowner_ner"]))
    confidences = [float(m[numpy.arange(len(ids)), ids].min()) for ids, m in zip(*tagger.predict_with_marginals(docs))]
    n_ents = [len(nlp(text).ents) for text in texts]
    # halfway through the docs with entities: some kept, some too unsure
    threshold = float(numpy.median([c for c, n in zip(confidences, n_ents) if n]))
    expected = [t for t, c, n in zip(texts, confidences, n_ents) if c >= threshold and n >= 1]
    kept, report = pseudo_label(nlp, (nlp.make_doc(t) for t in texts), threshold=threshold, min_entities=1)
    assert [doc.text for doc in kept] == expected
    assert 0 < report.kept < len(texts)
    assert report.too_unsure == sum(c < threshold for c in confidences)
    assert report.kept + report.too_unsure + report.too_few_entities == report.docs


def test_outside_missing_leaves_non_entity_tokens_unknown(nlp, texts):
    kept, _ = pseudo_label(nlp, (nlp.make_doc(t) for t in texts), threshold=0.0, min_entities=1, outside="missing")
    assert kept
    for doc in kept:
        inside = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        assert all((token.ent_iob_ in ("B", "I")) == (token.i in inside) for token in doc)
        assert all(token.ent_iob_ == "" for token in doc if token.i not in inside)
        assert doc.has_annotation("ENT_IOB")  # still a labeled doc for the readers


def test_token_selection_keeps_the_sure_tokens_of_every_doc(nlp, texts):
    tagger = nlp.get_pipe("lowner_ner")
    docs = list(nlp.pipe(texts, disable=["lowner_ner"]))
    tag_ids, marginals = tagger.predict_with_marginals(docs)
    probs = [m[numpy.arange(len(ids)), ids] for ids, m in zip(tag_ids, marginals)]
    threshold = float(numpy.median(numpy.concatenate(probs)))
    whole, _ = pseudo_label(nlp, (nlp.make_doc(t) for t in texts), threshold=threshold, min_entities=0)
    kept, report = pseudo_label(nlp, (nlp.make_doc(t) for t in texts), threshold=threshold, min_entities=0, selection="token")
    assert len(kept) > len(whole) and report.unknown_tokens > 0
    assert report.kept + report.too_unsure + report.too_few_entities == report.docs
    by_text = {text: (nlp(text), p) for text, p in zip(texts, probs)}
    for doc in kept:
        predicted, p = by_text[doc.text]
        sure = p >= threshold
        unsure_entity = {i for e in predicted.ents if not sure[e.start : e.end].all() for i in range(e.start, e.end)}
        kept_ents = [(e.start, e.end, e.label_) for e in predicted.ents if sure[e.start : e.end].all()]
        assert [(e.start, e.end, e.label_) for e in doc.ents] == kept_ents
        unknown = [token.i for token in doc if token.ent_iob_ == ""]
        assert unknown == [i for i in range(len(doc)) if not sure[i] or i in unsure_entity]
    # a doc sure from end to end is annotated the same either way
    token_kept = {doc.text: [(t.ent_iob_, t.ent_type_) for t in doc] for doc in kept}
    for doc in whole:
        assert token_kept[doc.text] == [(t.ent_iob_, t.ent_type_) for t in doc]


def test_bad_settings_and_pipelines_are_clear_errors(nlp):
    with pytest.raises(ValueError, match="threshold"):
        pseudo_label(nlp, [], threshold=1.5)
    with pytest.raises(ValueError, match="outside"):
        pseudo_label(nlp, [], threshold=0.5, outside="none")
    with pytest.raises(ValueError, match="selection"):
        pseudo_label(nlp, [], threshold=0.5, selection="entity")
    with pytest.raises(ValueError, match="no lowner_ner component named 'ner'"):
        find_tagger(nlp, "ner")
    with pytest.raises(ValueError, match="0 lowner_ner components"):
        find_tagger(spacy.blank("zh"))


def test_soft_labels_are_the_marginals_of_every_doc_on_text_only(nlp, texts):
    tagger = nlp.get_pipe("lowner_ner")
    docs = [set_domain(nlp.make_doc(text), "target") for text in texts[:6] + [""]]
    reports = []
    labeled, report = soft_label(nlp, docs, batch_size=4, progress=lambda r: reports.append(r.docs))
    assert report.docs == report.kept == len(docs) and reports == [4, 7]
    _, marginals = tagger.predict_with_marginals(list(nlp.pipe((d.text for d in docs), disable=["lowner_ner"])))
    for doc, source, expected in zip(labeled, docs, marginals):
        assert [t.text for t in doc] == [t.text for t in source] and doc_domain(doc) == "target"
        # no gold for the supervised loss (spaCy calls any empty doc annotated)
        assert not doc.has_annotation("ENT_IOB") or not len(doc)
        saved = doc_teacher(doc)
        assert list(saved["tags"]) == list(tagger.scheme.tags)
        assert saved["probs"].dtype == numpy.float16 and saved["probs"].shape == expected.shape
        numpy.testing.assert_allclose(saved["probs"], expected, rtol=2**-11, atol=2**-24)  # half precision
    # a real teacher's distributions, not one-hot: some tokens are unsure
    probs = numpy.concatenate([doc_teacher(doc)["probs"] for doc in labeled]).astype("float32")
    numpy.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-2)
    assert (probs.max(1) < 0.9).any()


def test_written_soft_labels_reach_the_batch_through_the_readers(nlp, texts, weibo_docs, tmp_path):
    path = tmp_path / "soft.spacy"
    report = write_soft_labels(nlp, (nlp.make_doc(t) for t in texts), path)
    assert report.docs == len(texts)
    written = {doc.text: doc_teacher(doc)["probs"] for doc in DocBin().from_disk(path).get_docs(nlp.vocab)}
    assert len(written) == len(set(texts))
    tags = nlp.get_pipe("lowner_ner").scheme
    labeled = tmp_path / "labeled.spacy"
    DocBin(docs=weibo_docs[1][:5]).to_disk(labeled)
    mixed = list(create_mixed_corpus(labeled, path)(nlp))
    spacy_corpus = list(Corpus(path)(nlp))  # spacy.Corpus.v1 on the file as paths.train
    for examples, n_soft in ((mixed, len(texts)), (spacy_corpus, len(texts))):
        soft = [eg for eg in examples if doc_teacher(eg.reference) is not None]
        assert len(soft) == n_soft and all(not eg.reference.has_annotation("ENT_IOB") for eg in soft)
        tokvecs = [numpy.zeros((len(eg.predicted), 2), dtype="float32") for eg in examples]
        batch = training_batch(examples, tokvecs, tags)
        assert batch.has_teacher.tolist() == [doc_teacher(eg.reference) is not None for eg in examples]
        for i, eg in enumerate(examples):
            if batch.has_teacher[i]:
                expected = torch.from_numpy(written[eg.reference.text].astype("float32"))
                torch.testing.assert_close(batch.teacher[i, : len(eg.predicted)], expected, rtol=0, atol=0)
    assert sum(eg.reference.has_annotation("ENT_IOB") for eg in mixed) == 5
    # hard pseudo-labels from soft-labeled docs do not carry the old soft labels along
    kept, _ = pseudo_label(nlp, DocBin().from_disk(path).get_docs(nlp.vocab), threshold=0.0, min_entities=0)
    assert kept and all(doc_teacher(doc) is None for doc in kept)


def test_soft_labels_need_docs(nlp, tmp_path):
    with pytest.raises(ValueError, match="no doc to soft-label"):
        write_soft_labels(nlp, [], tmp_path / "soft.spacy")
    assert not (tmp_path / "soft.spacy").exists()
