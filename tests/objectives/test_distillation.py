import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example

from spacy_lowner.model.batch import TaggerBatch
from spacy_lowner.model.channels import set_teacher
from spacy_lowner.model.head import TaggerHead
from spacy_lowner.model.tags import TagScheme
from spacy_lowner.objectives.distillation import make_distillation

SCHEME = TagScheme(("PER",), "BIO")  # tags O, B-PER, I-PER
STUDENT = [0.5, 0.3, 0.2]  # the student's distribution at every token (its softmax)
TEACHER = [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]  # the teacher's, per token of a doc


def student_head() -> TaggerHead:
    """A softmax head that gives every token the distribution STUDENT: zero weights, log-probability biases."""
    head = TaggerHead(hidden_width=0, dropout=0.0)
    head.build(n_in=4, scheme=SCHEME.to_dict(), decoder="softmax")
    with torch.no_grad():
        head.emission.weight.zero_()
        head.emission.bias.copy_(torch.tensor(STUDENT).log())
    return head


def batch_of(soft_labeled: int, others: int) -> TaggerBatch:
    """`soft_labeled` docs of 3 tokens carrying TEACHER, then `others` docs of 3 tokens without
    soft labels (one of them labeled)."""
    vocab = spacy.blank("en").vocab
    examples = []
    for i in range(soft_labeled + others):
        reference = Doc(vocab, words=["a", "b", "c"])
        if i < soft_labeled:
            set_teacher(reference, SCHEME.tags, TEACHER)
        elif i == soft_labeled:
            reference = Doc(vocab, words=["a", "b", "c"], ents=["B-PER", "O", "O"])
        examples.append(Example(Doc(vocab, words=["a", "b", "c"]), reference))
    features = torch.randn(len(examples), 3, 4).requires_grad_()
    mask = torch.ones(len(examples), 3, dtype=torch.bool)
    return TaggerBatch(features=features, mask=mask, examples=examples, scheme=SCHEME)


def expected_loss(weight: float) -> float:
    """weight x the sum over a doc's tokens and tags of (student - teacher)^2 (every soft-labeled doc alike)."""
    return weight * sum((s - t) ** 2 for row in TEACHER for s, t in zip(STUDENT, row))


def test_the_term_is_the_squared_error_of_the_distributions():
    term = make_distillation(weight=0.5)(batch_of(2, 0), student_head())[""]
    assert float(term.detach()) == pytest.approx(expected_loss(0.5), rel=1e-3)  # float16 soft labels


def test_docs_without_soft_labels_contribute_nothing():
    head = student_head()
    alone = make_distillation(weight=1.0)(batch_of(2, 0), head)[""]
    mixed = make_distillation(weight=1.0)(batch_of(2, 3), head)[""]
    assert float(mixed.detach()) == pytest.approx(float(alone.detach()))
    assert make_distillation(weight=1.0)(batch_of(0, 3), head) == {}


def test_its_gradient_reaches_the_head_and_the_encoder_output():
    head, batch = student_head(), batch_of(1, 2)
    make_distillation(weight=1.0)(batch, head)[""].backward()
    # toward the teacher: the student's O (0.5) is above the teacher's mean O (0.4), so its bias falls
    assert float(head.emission.bias.grad[SCHEME.tags.index("O")]) > 0
    head, batch = student_head(), batch_of(1, 2)
    with torch.no_grad():
        head.emission.weight.normal_(std=0.1)  # zero weights pass no gradient to the vectors
    make_distillation(weight=1.0)(batch, head)[""].backward()
    grad = batch.features.grad
    assert float(grad[0].abs().sum()) > 0  # the soft-labeled doc's vectors
    assert float(grad[1:].abs().sum()) == 0  # the others get nothing
