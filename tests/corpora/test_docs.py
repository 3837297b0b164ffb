import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities
from spacy.vocab import Vocab

from spacy_lowner.corpora.docs import make_doc, to_iob2


def entities(doc):
    return [(ent.label_, ent.start, ent.end - 1) for ent in doc.ents]


def test_labeled_doc_without_entities_is_annotated():
    doc = make_doc(Vocab(), ["a", "b"], ["O", "O"], spaced=True)
    assert doc.has_annotation("ENT_IOB")
    assert [token.ent_iob_ for token in doc] == ["O", "O"]


def test_unlabeled_doc_has_no_entity_annotation():
    doc = make_doc(Vocab(), ["a", "b"], spaced=True)
    assert not doc.has_annotation("ENT_IOB")


def test_spacing():
    assert make_doc(Vocab(), ["New", "York"], ["B-LOC", "I-LOC"], spaced=True).text == "New York"
    chars = make_doc(Vocab(), ["北", "京"], ["B-LOC", "I-LOC"], spaced=False)
    assert chars.text == "北京"
    assert [token.whitespace_ for token in chars] == ["", ""]


@pytest.mark.parametrize(
    "tags,expected",
    [
        (["O", "I-A", "I-A"], ["O", "B-A", "I-A"]),
        (["B-A", "I-B", "I-B"], ["B-A", "B-B", "I-B"]),
        (["S-A", "B-A", "I-A", "E-A", "I-A"], ["B-A", "B-A", "I-A", "I-A", "B-A"]),
        (["U-A", "B-A", "L-A", "L-A"], ["B-A", "B-A", "I-A", "B-A"]),
    ],
)
def test_to_iob2(tags, expected):
    assert to_iob2(tags) == expected


@pytest.mark.parametrize("prefixes", ["BIO", "BIOES"])
def test_entities_equal_seqeval_on_random_ill_formed_tags(prefixes):
    rng = random.Random(0)
    tags = [f"{p}-{t}" for p in prefixes.replace("O", "") for t in ("PER", "LOC.NAM", "creative-work")]
    for _ in range(500):
        seq = [rng.choice(tags + ["O"]) for _ in range(rng.randint(1, 12))]
        doc = make_doc(Vocab(), [str(i) for i in range(len(seq))], seq, spaced=True)
        assert entities(doc) == get_entities(seq), seq
