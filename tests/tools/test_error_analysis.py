import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_lowner.model.scoring import score_entities
from spacy_lowner.tools.error_analysis import KINDS, analyse, match_entities


def kinds(gold, predicted):
    return sorted((m.kind, m.gold, m.predicted) for m in match_entities(gold, predicted))


def test_every_kind_on_hand_made_pairs():
    gold = [(0, 2, "PER"), (3, 5, "LOC"), (6, 9, "ORG"), (10, 12, "PER"), (14, 16, "GPE")]
    predicted = [(0, 2, "PER"), (3, 5, "ORG"), (6, 8, "ORG"), (10, 13, "LOC"), (17, 18, "PER")]
    assert kinds(gold, predicted) == sorted([
        ("correct", (0, 2, "PER"), (0, 2, "PER")),
        ("wrong_type", (3, 5, "LOC"), (3, 5, "ORG")),
        ("wrong_boundary", (6, 9, "ORG"), (6, 8, "ORG")),
        ("wrong_type_and_boundary", (10, 12, "PER"), (10, 13, "LOC")),
        ("missed", (14, 16, "GPE"), None),
        ("spurious", None, (17, 18, "PER")),
    ])


def test_the_largest_overlap_is_paired_first():
    # one predicted span overlapping two gold spans: the one it covers most is its pair
    assert kinds([(0, 2, "PER"), (2, 6, "PER")], [(1, 5, "PER")]) == sorted([
        ("wrong_boundary", (2, 6, "PER"), (1, 5, "PER")),
        ("missed", (0, 2, "PER"), None),
    ])


def doc(vocab, words, ents):
    tags = ["O"] * len(words)
    for start, end, label in ents:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return Doc(vocab, words=words, ents=tags)


def test_scores_equal_the_scorer_and_groups_are_reported():
    vocab = spacy.blank("zh").vocab
    words = list("我们在北京见到了周杰伦和他的朋友")
    pairs = [
        ([(3, 5, "GPE.NAM"), (8, 11, "PER.NAM"), (13, 16, "PER.NOM")], [(3, 5, "GPE.NAM"), (8, 10, "PER.NAM"), (14, 16, "PER.NOM")]),
        ([(0, 2, "PER.NOM")], [(0, 2, "PER.NOM"), (3, 5, "LOC.NAM")]),
        ([], [(5, 7, "ORG.NAM")]),
    ]
    examples = [Example(doc(vocab, words, p), doc(vocab, words, g)) for g, p in pairs]
    examples.append(Example(Doc(vocab, words=words), Doc(vocab, words=words)))  # unlabeled: skipped
    report = analyse(examples)
    expected = score_entities(examples)
    for key in ("ents_p", "ents_r", "ents_f"):
        assert report.scores()[key] == pytest.approx(expected[key])
    data = report.to_dict()
    assert data["counts"] == {"correct": 2, "wrong_type": 0, "wrong_boundary": 2, "wrong_type_and_boundary": 0, "missed": 0, "spurious": 2}
    assert data["by_group"]["NOM"]["wrong_boundary"] == 1 and data["by_group"]["NAM"]["spurious"] == 2
    assert [d.index for d in report.worst_docs(10)] == [0, 1, 2]
    assert set(KINDS) == set(data["counts"])


def test_worst_docs_needs_a_limit_of_one_or_more():
    vocab = spacy.blank("zh").vocab
    words = list("我们在北京")
    examples = [Example(doc(vocab, words, []), doc(vocab, words, [(3, 5, "GPE.NAM")])) for _ in range(3)]
    report = analyse(examples)
    assert [d.index for d in report.worst_docs(2)] == [0, 1]
    for limit in (0, -1):  # a slice [:-1] would quietly keep all docs but the last
        with pytest.raises(ValueError, match=f"limit must be at least 1, got {limit}"):
            report.worst_docs(limit)
