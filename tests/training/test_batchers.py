import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_lowner.training.batchers import configure_labeled_share


def examples(nlp, n, labeled, words=10):
    made = []
    for i in range(n):
        reference = Doc(nlp.vocab, words=[f"w{i}"] * words, ents=["O"] * words if labeled else None)
        made.append(Example(Doc(nlp.vocab, words=[f"w{i}"] * words), reference))
    return made


def test_every_batch_has_the_labeled_part_of_a_supervised_batch_plus_unlabeled_docs():
    nlp = spacy.blank("en")
    labeled, unlabeled = examples(nlp, 12, True), examples(nlp, 50, False)
    batcher = registry.batchers.get("spacy_lowner.labeled_share.v1")(size=40, unlabeled_per_labeled=0.5, tolerance=0.0)
    batches = list(batcher(unlabeled[:25] + labeled + unlabeled[25:]))
    # one pass over the labeled docs, batched by words exactly as spacy.batch_by_words.v1 would
    by_words = registry.batchers.get("spacy.batch_by_words.v1")(size=40, tolerance=0.0, discard_oversize=False)
    supervised = list(by_words(labeled))
    assert [[eg for eg in batch if eg.reference.has_annotation("ENT_IOB")] for batch in batches] == supervised
    for batch in batches:
        n_labeled = sum(eg.reference.has_annotation("ENT_IOB") for eg in batch)
        assert n_labeled and len(batch) - n_labeled == n_labeled // 2  # half as many unlabeled words
    seen = [eg for batch in batches for eg in batch if not eg.reference.has_annotation("ENT_IOB")]
    assert seen == unlabeled[: len(seen)]  # taken in turn


def test_no_unlabeled_docs_is_batch_by_words():
    nlp = spacy.blank("en")
    labeled = examples(nlp, 7, True)
    batcher = configure_labeled_share(size=30, unlabeled_per_labeled=1.0, tolerance=0.0)
    assert [len(batch) for batch in batcher(labeled)] == [3, 3, 1]


def test_unlabeled_docs_wrap_around_but_never_repeat_within_a_batch():
    nlp = spacy.blank("en")
    labeled, unlabeled = examples(nlp, 4, True), examples(nlp, 3, False)
    batcher = configure_labeled_share(size=40, unlabeled_per_labeled=2.0, tolerance=0.0)
    (batch,) = list(batcher(labeled + unlabeled))
    assert len(batch) == 4 + 3
