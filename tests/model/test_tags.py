import pytest
import torch
from spacy.tokens import Doc
from spacy.training.iob_utils import biluo_tags_to_spans
from spacy.vocab import Vocab

from spacy_lowner.model.tags import TagScheme


def allowed_pairs(scheme: TagScheme):
    allowed = scheme.allowed_transitions()
    return {(a, b) for i, a in enumerate(scheme.tags) for j, b in enumerate(scheme.tags) if allowed[i, j]}


def allowed_tags(scheme: TagScheme, mask: torch.Tensor):
    return {tag for tag, ok in zip(scheme.tags, mask.tolist()) if ok}


def test_tag_lists():
    assert TagScheme(["PER", "LOC", "PER"], "BIO").tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert TagScheme(["PER", "LOC"], "BIOES").tags == [
        "O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER",
    ]
    assert TagScheme([], "BIO").tags == ["O"]


def test_unknown_scheme():
    with pytest.raises(ValueError, match="BILOU"):
        TagScheme(["PER"], "BILOU")


def test_bio_constraints_by_hand():
    scheme = TagScheme(["LOC", "PER"], "BIO")
    free = {"O", "B-LOC", "B-PER"}  # may follow anything
    expected = {(a, b) for a in scheme.tags for b in free}
    expected |= {("B-LOC", "I-LOC"), ("I-LOC", "I-LOC"), ("B-PER", "I-PER"), ("I-PER", "I-PER")}
    assert allowed_pairs(scheme) == expected
    assert allowed_tags(scheme, scheme.allowed_start()) == free
    assert allowed_tags(scheme, scheme.allowed_end()) == set(scheme.tags)


def test_bioes_constraints_by_hand():
    scheme = TagScheme(["LOC", "PER"], "BIOES")
    closed = {"O", "E-LOC", "S-LOC", "E-PER", "S-PER"}
    opening = {"O", "B-LOC", "S-LOC", "B-PER", "S-PER"}
    expected = {(a, b) for a in closed for b in opening}
    for label in ("LOC", "PER"):
        expected |= {(f"{a}-{label}", f"{b}-{label}") for a in "BI" for b in "IE"}
    assert allowed_pairs(scheme) == expected
    assert allowed_tags(scheme, scheme.allowed_start()) == opening
    assert allowed_tags(scheme, scheme.allowed_end()) == closed


BILUO = ["B-PER", "L-PER", "U-PER", "O", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "U-PER"]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("BIO", ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-LOC", "B-PER"]),
        ("BIOES", ["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "S-PER"]),
    ],
)
def test_biluo_round_trip(name, expected):
    scheme = TagScheme(["PER", "LOC"], name)
    ids = scheme.from_biluo(BILUO)
    assert [scheme.tags[i] for i in ids] == expected
    assert scheme.to_biluo(ids) == BILUO
    assert scheme.to_biluo(torch.tensor(ids)) == BILUO


def test_missing_tags_become_minus_one():
    scheme = TagScheme(["PER"], "BIO")
    assert scheme.from_biluo([None, "-", "O", "U-PER"]) == [-1, -1, 0, 1]


def test_unknown_label_is_named():
    with pytest.raises(ValueError, match="'ORG'"):
        TagScheme(["PER"], "BIOES").from_biluo(["O", "B-ORG", "L-ORG"])


def test_ill_formed_ids_are_repaired():
    scheme = TagScheme(["LOC", "PER"], "BIO")
    ids = [scheme.tags.index(t) for t in ["O", "I-PER", "I-PER", "I-LOC", "O"]]
    assert scheme.to_biluo(ids) == ["O", "B-PER", "L-PER", "U-LOC", "O"]
    with pytest.raises(ValueError):
        scheme.to_biluo([-1])


def test_to_biluo_sets_doc_ents():
    scheme = TagScheme(["PER", "LOC"], "BIOES")
    # A bare Doc rather than spacy.blank(), which would load every registered factory.
    doc = Doc(Vocab(), words="Ada Lovelace met Bob in New York City".split())
    ids = [scheme.tags.index(t) for t in ["B-PER", "E-PER", "O", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC"]]
    doc.ents = biluo_tags_to_spans(doc, scheme.to_biluo(ids))
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Ada Lovelace", "PER"), ("Bob", "PER"), ("New York City", "LOC"),
    ]


def test_serialisation():
    scheme = TagScheme(["PER", "LOC"], "BIOES")
    restored = TagScheme.from_dict(scheme.to_dict())
    assert restored.tags == scheme.tags and restored.scheme == "BIOES"
    assert scheme.to_dict() == {"labels": ["LOC", "PER"], "scheme": "BIOES"}
