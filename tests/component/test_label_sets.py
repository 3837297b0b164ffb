"""Several labeled corpora with different entity types in one run: CoNLL-2003 English (4
types) as the source domain, WNUT-17 (6 types) as the target, as DATNet trains them. Each
domain's docs are scored and decoded under its own label set; prediction gives the default
(target) domain's."""
from itertools import islice

import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import set_domain

CONLL_TYPES = ["LOC", "MISC", "ORG", "PER"]
WNUT_TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]
STACK = {
    "@architectures": "spacy_lowner.TokenTagger.v3",
    "hidden_width": 0,
    "dropout": 0.1,
    "modules": {"bilstm": {"@lowner_head_modules": "spacy_lowner.bilstm.v1", "width": 16}},
}


@pytest.fixture(scope="module")
def two_corpora(shared_data):
    """40 CoNLL-2003 and 40 WNUT-17 training sentences (those with entities), each doc tagged
    with its domain."""
    nlp = spacy.blank("en")
    conll = [d for d in read_docs("conll", shared_data / "conll2003" / "train.txt", nlp) if d.ents]
    wnut = [d for d in read_docs("conll", shared_data / "wnut17" / "wnut17train.conll", nlp) if d.ents]
    source = [set_domain(doc, "source") for doc in islice(conll, 40)]
    target = [set_domain(doc, "target") for doc in islice(wnut, 40)]
    return nlp.vocab, source, target


def make_pipeline(vocab, small_cnn, default_domain="target"):
    nlp = spacy.blank("en", vocab=vocab)
    nlp.add_pipe("lowner_ner", config={"model": {**STACK, "tok2vec": small_cnn}, "default_domain": default_domain})
    return nlp


def examples_of(nlp, docs):
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def test_each_domain_gets_its_own_label_set_and_prediction_the_targets(two_corpora, small_cnn, tmp_path):
    vocab, source, target = two_corpora
    assert sorted({e.label_ for d in source for e in d.ents}) == CONLL_TYPES
    assert set(e.label_ for d in target for e in d.ents) <= set(WNUT_TYPES)
    nlp = make_pipeline(vocab, small_cnn)
    examples = examples_of(nlp, source) + examples_of(nlp, target)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("lowner_ner")
    target_types = sorted({e.label_ for d in target for e in d.ents})
    assert list(ner.labels) == target_types
    assert ner.cfg["domain_labels"] == {"source": CONLL_TYPES}
    assert ner.head.n_tags == 2 * len(target_types) + 1
    assert ner.head.domain_emissions["source"].out_features == 2 * len(CONLL_TYPES) + 1
    for _ in range(3):
        for start in range(0, len(examples), 16):
            losses = nlp.update(examples[start : start + 16], sgd=optimizer, losses={})
            assert torch.isfinite(torch.tensor(losses["lowner_ner"]))
    texts = [doc.text for doc in source[:10] + target[:10]]
    predicted = [ent.label_ for doc in nlp.pipe(texts) for ent in doc.ents]
    assert set(predicted) <= set(target_types)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("lowner_ner").cfg["domain_labels"] == {"source": CONLL_TYPES}
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in loaded.pipe(texts)] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)
    ]


def test_gold_tags_and_the_loss_use_each_docs_own_label_set(two_corpora, small_cnn):
    vocab, source, target = two_corpora
    nlp = make_pipeline(vocab, small_cnn)
    examples = examples_of(nlp, source[:8]) + examples_of(nlp, target[:8])
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("lowner_ner")
    batch_examples = examples[:2] + examples[8:10]
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in batch_examples])
    batch = training_batch(batch_examples, tokvecs, ner.scheme, ner.domain_schemes)
    assert [batch.label_set(i) for i in range(4)] == ["source", "source", None, None]
    for i, eg in enumerate(batch_examples):
        scheme = ner.domain_schemes["source"] if i < 2 else ner.scheme
        ids = batch.gold[i, : len(eg.predicted)].tolist()
        assert ids == scheme.from_biluo(eg.get_aligned_ner())
    # Only the source docs' loss reaches the source projection, only the target docs' the default one.
    loss = ner.objectives["supervised"](batch, ner.head)[""]
    loss.backward()
    assert ner.head.domain_emissions["source"].weight.grad.abs().sum() > 0
    assert ner.head.emission.weight.grad.abs().sum() > 0


def test_different_types_without_a_default_domain_is_a_clear_error(two_corpora, small_cnn):
    vocab, source, target = two_corpora
    nlp = make_pipeline(vocab, small_cnn, default_domain=None)
    examples = examples_of(nlp, source[:8]) + examples_of(nlp, target[:8])
    with pytest.raises(ValueError, match="different entity types.*default_domain"):
        nlp.initialize(lambda: examples)
