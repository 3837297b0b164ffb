import pytest
import spacy
import torch
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import doc_domain, missing_channel, set_domain, set_teacher
from spacy_lowner.model.tags import TagScheme

SCHEME = TagScheme(["LOC", "PER"], "BIO")


def example(nlp, words, ents=None):
    reference = Doc(nlp.vocab, words=words, ents=ents)
    return Example(Doc(nlp.vocab, words=words), reference)


@pytest.fixture
def nlp():
    return spacy.blank("zh")


def batch_of(examples, width=3):
    tokvecs = [torch.zeros(len(eg.predicted), width).numpy() for eg in examples]
    return training_batch(examples, tokvecs, SCHEME)


def test_labeled_and_gold(nlp):
    labeled = example(nlp, ["北", "京", "好"], ["B-LOC", "I-LOC", "O"])
    unlabeled = example(nlp, ["你", "好"])
    batch = batch_of([labeled, unlabeled])
    assert batch.labeled.tolist() == [True, False]
    assert batch.gold.tolist() == [[1, 2, 0], [-1, -1, -1]]


def test_domains_survive_a_docbin_and_map_to_ids(nlp):
    docs = [set_domain(Doc(nlp.vocab, words=["a"]), "source"), set_domain(Doc(nlp.vocab, words=["b"]), "target")]
    loaded = list(DocBin(store_user_data=True, docs=docs).from_bytes(DocBin(store_user_data=True, docs=docs).to_bytes()).get_docs(nlp.vocab))
    assert [doc_domain(doc) for doc in loaded] == ["source", "target"]
    batch = batch_of([Example(Doc(nlp.vocab, words=["x"]), doc) for doc in loaded])
    assert batch.domains == ["source", "target"]
    assert batch.domain_ids(["target", "source"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="domain\\(s\\) source"):
        batch.domain_ids(["target"])


def test_teacher_is_reordered_to_the_scheme(nlp):
    eg = example(nlp, ["北", "京"], ["B-LOC", "I-LOC"])
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]  # not the scheme's order
    set_teacher(eg.reference, tags, [[0.1, 0.0, 0.0, 0.9, 0.0], [0.2, 0.0, 0.0, 0.0, 0.8]])
    teacher = batch_of([eg]).teacher
    # scheme order: O, B-LOC, I-LOC, B-PER, I-PER
    torch.testing.assert_close(teacher[0], torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0], [0.2, 0.0, 0.8, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="2 rows of 5"):
        set_teacher(eg.reference, tags, [[1.0] * 5])


def test_a_missing_channel_is_named_with_its_source(nlp):
    examples = [example(nlp, ["a"]), example(nlp, ["b"])]
    set_domain(examples[0].reference, "source")
    assert "example 2 has no reference.user_data[\"lowner_domain\"]" in missing_channel("domain", examples)
    assert missing_channel("labeled", examples) is None
    assert "no channel 'colour'" in missing_channel("colour", examples)
