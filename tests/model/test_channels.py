import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import TEACHER_KEY, doc_domain, doc_teacher, missing_channel, set_domain, set_teacher
from spacy_lowner.model.tags import TagScheme
from spacy_lowner.objectives import Objective
from spacy_lowner.registry import lowner_objectives

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
    # scheme order: O, B-LOC, I-LOC, B-PER, I-PER; stored in half precision
    expected = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0], [0.2, 0.0, 0.8, 0.0, 0.0]])
    torch.testing.assert_close(teacher[0], expected, rtol=2**-11, atol=0)
    with pytest.raises(ValueError, match="2 rows of 5"):
        set_teacher(eg.reference, tags, [[1.0] * 5])


def test_a_missing_channel_is_named_with_its_source(nlp):
    examples = [example(nlp, ["a"]), example(nlp, ["b"])]
    set_domain(examples[0].reference, "source")
    assert "example 2 has no reference.user_data[\"lowner_domain\"]" in missing_channel("domain", examples, SCHEME.tags)
    assert missing_channel("labeled", examples, SCHEME.tags) is None
    assert "no channel 'colour'" in missing_channel("colour", examples, SCHEME.tags)


def distributions(n_tokens, n_tags, seed=0):
    """Random per-token distributions with some tiny probabilities, as a teacher gives."""
    logits = numpy.random.default_rng(seed).normal(scale=6.0, size=(n_tokens, n_tags))
    probs = numpy.exp(logits - logits.max(1, keepdims=True))
    return probs / probs.sum(1, keepdims=True)


def test_soft_labels_survive_a_docbin_round_trip_to_float16_precision(nlp):
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    probs = [distributions(4, 5, seed=1), distributions(1, 5, seed=2), numpy.zeros((0, 5))]
    docs = [set_teacher(Doc(nlp.vocab, words=list("北京欢迎")), tags, probs[0]),
            set_teacher(Doc(nlp.vocab, words=["你"]), tags, probs[1].tolist()),  # nested lists too
            set_teacher(Doc(nlp.vocab, words=[]), tags, [])]
    data = DocBin(store_user_data=True, docs=docs).to_bytes()
    loaded = list(DocBin().from_bytes(data).get_docs(nlp.vocab))
    for doc, original in zip(loaded, probs):
        saved = doc_teacher(doc)
        assert list(saved["tags"]) == tags
        assert saved["probs"].dtype == numpy.float16 and saved["probs"].shape == original.shape
        # exactly the half-precision values: within 2^-11 of each probability, relatively
        assert (saved["probs"] == original.astype(numpy.float16)).all()
        numpy.testing.assert_allclose(saved["probs"], original, rtol=2**-11, atol=2**-24)
    # and that is what the batch gives, in the scheme's tag order
    batch = batch_of([Example(Doc(nlp.vocab, words=[t.text for t in doc]), doc) for doc in loaded])
    order = [tags.index(tag) for tag in SCHEME.tags]
    torch.testing.assert_close(batch.teacher[0], torch.tensor(probs[0][:, order], dtype=torch.float32), rtol=2**-11, atol=2**-24)


def test_set_teacher_takes_only_distributions(nlp):
    doc = Doc(nlp.vocab, words=["北", "京"])
    tags = SCHEME.tags
    for bad in ([[0.5] * 5, [0.2] * 5], [[1.2, -0.2, 0, 0, 0], [1, 0, 0, 0, 0]], [[float("nan")] * 5, [1, 0, 0, 0, 0]]):
        with pytest.raises(ValueError, match="finite, non-negative and sum to 1"):
            set_teacher(doc, tags, bad)
    assert TEACHER_KEY not in doc.user_data
    with pytest.raises(ValueError, match="2 rows of 5"):
        set_teacher(doc, tags, [[1.0, 0, 0, 0, 0]] * 3)


def test_a_batch_mixes_docs_with_and_without_soft_labels(nlp):
    tags = SCHEME.tags
    with_two = example(nlp, ["北", "京"])
    without = example(nlp, ["你", "好", "吗"], ["O", "O", "O"])
    with_one = example(nlp, ["好"])
    empty = example(nlp, [])
    set_teacher(with_two.reference, tags, distributions(2, 5))
    set_teacher(with_one.reference, tags, distributions(1, 5, seed=3))
    set_teacher(empty.reference, tags, [])
    batch = batch_of([with_two, without, with_one, empty])
    assert batch.has_teacher.tolist() == [True, False, True, True]
    assert batch.teacher_tokens.tolist() == [[True, True, False], [False] * 3, [True, False, False], [False] * 3]
    assert batch.teacher.shape == (4, 3, 5)
    expected = torch.zeros(4, 3, 5)
    expected[0, :2] = torch.from_numpy(distributions(2, 5).astype(numpy.float16).astype(numpy.float32))
    expected[2, :1] = torch.from_numpy(distributions(1, 5, seed=3).astype(numpy.float16).astype(numpy.float32))
    torch.testing.assert_close(batch.teacher, expected, rtol=0, atol=0)
    # no soft labels at all: zeros, and has_teacher says so
    plain = batch_of([without])
    assert plain.has_teacher.tolist() == [False] and not plain.teacher.any()


def test_the_teacher_channel_is_optional_per_doc_and_checked_against_the_tags(nlp):
    examples = [example(nlp, ["北", "京"]), example(nlp, ["好"]), example(nlp, ["你"])]
    set_teacher(examples[1].reference, SCHEME.tags, distributions(1, 5))
    assert missing_channel("teacher", examples, SCHEME.tags) is None
    # domain stays required on every doc
    set_domain(examples[1].reference, "target")
    assert "example 1 has no" in missing_channel("domain", examples, SCHEME.tags)
    assert "no example has reference.user_data[\"lowner_teacher\"]" in missing_channel("teacher", examples[::2], SCHEME.tags)
    # a teacher of other labels (or another scheme) is named with the example
    set_teacher(examples[2].reference, ["O", "B-ORG", "I-ORG"], distributions(1, 3))
    problem = missing_channel("teacher", examples, SCHEME.tags)
    assert problem.startswith("example 3 cannot give it: the teacher's tags are not this component's: they lack B-LOC, B-PER, "
                              "I-LOC and 1 more and have B-ORG, I-ORG")
    with pytest.raises(ValueError, match="the teacher's tags"):
        batch_of(examples).teacher
    # a teacher of another tokenization
    set_teacher(examples[2].reference, SCHEME.tags, distributions(1, 5))
    examples[2] = Example(Doc(nlp.vocab, words=["你", "们"]), examples[2].reference)
    assert "for a doc of 2 tokens" in missing_channel("teacher", examples, SCHEME.tags)


class TeacherProbe(Objective):
    """Reads the teacher channel and records what each batch gave it."""

    needs = ("teacher",)
    seen = []

    def __call__(self, batch, head):
        TeacherProbe.seen.append((batch.has_teacher.tolist(), batch.teacher.clone()))
        return {}


@lowner_objectives("test_teacher_probe")
def make_teacher_probe() -> TeacherProbe:
    return TeacherProbe()


def test_training_on_a_corpus_where_only_some_docs_have_soft_labels(weibo_docs, small_cnn):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    objectives = {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"}, "probe": {"@lowner_objectives": "test_teacher_probe"}}
    model = {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": small_cnn}
    nlp.add_pipe("lowner_ner", config={"model": model, "objectives": objectives})
    examples = [Example(nlp.make_doc(doc.text), doc.copy()) for doc in train_docs[:4]]
    # the tags are the component's, which initialize derives from the labels
    tags = TagScheme(sorted({ent.label_ for eg in examples for ent in eg.reference.ents}), "BIO").tags
    soft = {1: distributions(len(examples[1].reference), len(tags)), 3: distributions(len(examples[3].reference), len(tags), seed=4)}
    for i, probs in soft.items():
        set_teacher(examples[i].reference, tags, probs)
    with pytest.raises(ValueError, match="objective 'probe' needs the channel 'teacher', but the training corpus does not provide it"):
        nlp.initialize(lambda: [examples[0], examples[2]])
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    TeacherProbe.seen.clear()
    nlp.update(examples, sgd=optimizer)
    ((has_teacher, teacher),) = TeacherProbe.seen
    assert has_teacher == [False, True, False, True]
    for i, eg in enumerate(examples):
        rows = teacher[i, : len(eg.reference)]
        expected = soft[i].astype(numpy.float16).astype(numpy.float32) if i in soft else numpy.zeros(rows.shape, dtype="float32")
        numpy.testing.assert_array_equal(rows.numpy(), expected)
        assert not teacher[i, len(eg.reference) :].any()
