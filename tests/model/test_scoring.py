import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from spacy_lowner.corpora.docs import make_doc
from spacy_lowner.model.scoring import score_entities, score_token_accuracy, score_tokens

LABELS = ["PER.NAM", "PER.NOM", "LOC.NAM"]


def random_tags(rng: random.Random, n: int):
    # Any prefix may follow any tag, so stray I- tags (after O or another type) are common.
    return [rng.choice(["O", "O", "O"] + [f"{p}-{l}" for p in "BI" for l in LABELS]) for _ in range(n)]


def make_examples(rng: random.Random, n_docs: int):
    vocab = Vocab()
    examples, gold_tags, pred_tags = [], [], []
    for _ in range(n_docs):
        n = rng.randint(1, 15)
        words = [rng.choice("我们在北京见到了周杰伦") for _ in range(n)]
        gold, pred = random_tags(rng, n), random_tags(rng, n)
        examples.append(
            Example(make_doc(vocab, words, pred, spaced=False), make_doc(vocab, words, gold, spaced=False))
        )
        gold_tags.append(gold)
        pred_tags.append(pred)
    return examples, gold_tags, pred_tags


@pytest.mark.parametrize("seed", range(5))
def test_scores_equal_seqeval(seed):
    examples, gold, pred = make_examples(random.Random(seed), 40)
    scores = score_entities(examples)
    assert scores["ents_p"] == pytest.approx(precision_score(gold, pred))
    assert scores["ents_r"] == pytest.approx(recall_score(gold, pred))
    assert scores["ents_f"] == pytest.approx(f1_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True)
    for label in LABELS:
        assert scores["ents_per_type"][label]["f"] == pytest.approx(report[label]["f1-score"])
        assert scores[f"ents_f_{label}"] == pytest.approx(report[label]["f1-score"])


def test_group_scores_are_micro_scores_over_the_group():
    examples, gold, pred = make_examples(random.Random(7), 40)
    scores = score_entities(examples)
    nam_only = lambda seqs: [[t if t.endswith(".NAM") else "O" for t in s] for s in seqs]  # noqa: E731
    assert scores["ents_f_NAM"] == pytest.approx(f1_score(nam_only(gold), nam_only(pred)))
    assert scores["ents_p_NAM"] == pytest.approx(precision_score(nam_only(gold), nam_only(pred)))


def test_unlabeled_references_are_skipped():
    vocab = Vocab()
    labeled = make_doc(vocab, list("北京"), ["B-LOC.NAM", "I-LOC.NAM"], spaced=False)
    unlabeled = Doc(vocab, words=list("周杰伦"))
    predicted = make_doc(vocab, list("周杰伦"), ["B-PER.NAM", "I-PER.NAM", "I-PER.NAM"], spaced=False)
    scores = score_entities([Example(labeled.copy(), labeled), Example(predicted, unlabeled)])
    assert scores["ents_p"] == pytest.approx(1.0)
    assert scores["ents_f"] == pytest.approx(1.0)


def test_no_annotation_gives_none():
    vocab = Vocab()
    doc = Doc(vocab, words=list("北京"))
    assert score_entities([Example(doc, doc.copy())])["ents_f"] is None


def test_token_macro_f1_leaves_out_o():
    vocab = Vocab()
    gold = make_doc(vocab, list("abcdef"), ["B-PER", "I-PER", "O", "B-LOC", "O", "O"], spaced=True)
    predicted = make_doc(vocab, list("abcdef"), ["B-PER", "O", "O", "B-LOC", "I-LOC", "B-PER"], spaced=True)
    scores = score_tokens([Example(predicted, gold)])
    # PER: tp 1 (a), fn 1 (b), fp 1 (f) -> F1 0.5; LOC: tp 1 (d), fp 1 (e) -> F1 2/3
    assert scores["tokens_macro_f"] == pytest.approx((0.5 + 2 / 3) / 2)
    unlabeled = Doc(vocab, words=list("ab"))
    assert score_tokens([Example(Doc(vocab, words=list("ab")), unlabeled)]) == {"tokens_macro_f": None}


def test_token_accuracy_without_o_counts_the_gold_entity_tokens():
    vocab = Vocab()
    gold = make_doc(vocab, list("abcdef"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"], spaced=True)
    predicted = make_doc(vocab, list("abcdef"), ["B-PER", "B-LOC", "B-PER", "I-PER", "I-LOC", "B-PER"], spaced=True)
    # gold entity tokens a b d e: a right, b wrong type, d wrong type, e right (B/I ignored); c, f (gold O) left out
    assert score_token_accuracy([Example(predicted, gold)]) == {"tokens_acc_no_o": 0.5}
    unlabeled = Doc(vocab, words=list("ab"))
    assert score_token_accuracy([Example(Doc(vocab, words=list("ab")), unlabeled)]) == {"tokens_acc_no_o": None}
